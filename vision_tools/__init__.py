"""Vision and normalisation components reused by the agents' encoders."""
