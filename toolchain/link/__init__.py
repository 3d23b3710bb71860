"""Host side of the device link: frames, reports, the report scheduler and reporting modes."""
