"""The read side: a published copy of the marts that readers use while the pipelines write, the
query API (``shopper serve``) and the dashboard (``shopper dashboard``)."""
