"""Reader research and training that the answering service never imports (it may import qa/ and eval/)."""
