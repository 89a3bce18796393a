"""Sources: websites and folders a collection follows, synced on a schedule (see `syncing`)."""
