"""What a signing writes to the opportunity (fields, Files, Tasks), and the batcher that shares Composite calls."""
