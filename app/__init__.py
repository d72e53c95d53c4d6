"""XPulse: IT experience management for ServiceNow and Jira tickets."""
