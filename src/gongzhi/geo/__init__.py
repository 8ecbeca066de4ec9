"""Pure geometry for gongzhi (地理计算): datums, metric buffers, joint zones, river networks.

This package depends on Shapely, pyproj and networkx only; it never imports Django, so the
registry, the analytics and the tests can all use it.

Modules
-------
datum
    GCJ-02 (the Chinese "Mars" datum used by Amap/DataV) ↔ WGS-84 conversion.
metric
    Local metric projection, buffers in metres, geodesic lengths and distances.
geojson
    Reading GeoJSON in its common shapes (FeatureCollection, bare Feature arrays, bare geometry).
joint_zone
    Shared boundaries between adjacent jurisdictions and the joint zone (联防联治区) band around them.
network
    A directed river network of reaches with travel times (上下游追溯).

Policy: everything stored and drawn is WGS-84 (EPSG:4326, lon/lat order). GCJ-02 input is converted
on import with :func:`gongzhi.geo.datum.gcj02_to_wgs84` and the conversion is recorded.
"""
