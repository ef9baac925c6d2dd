"""What a reader sees: the findings report, the figures and the offline plot renderer."""
