"""telco-cdr-generator: synthetic subscribers and Call Detail Records for streaming pipelines."""

__version__ = "0.4.0"
