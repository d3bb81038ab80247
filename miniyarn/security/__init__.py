"""What proves who is talking: the cluster's credentials on disk, derived tokens, signed user tokens."""
