"""Department-side publishing: the way data gets into govbus."""
