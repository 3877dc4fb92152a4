"""The alert engine: rules turn inputs into conditions, the lifecycle turns conditions into persisted alerts."""
