"""The kernel: errors, settings, logs, telemetry and calendar periods; it imports nothing above it."""
