"""Assessments (考核评价): water sections by month/quarter/year, air quality statistics and
rankings, computed by the standards engine over the observation store and cached."""
