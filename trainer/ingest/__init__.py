"""Chat logs in, a clean corpus split by stream out: log formats, cleaning, emotes, the split,
`prepare` and `download`."""
