"""Early warning across boundaries (联防联控): alarm rules, the alarm lifecycle, anomaly
verdicts, upstream→downstream propagation, acknowledgement deadlines and escalation."""
