"""The runtime the three services share: written once."""
