"""labrun's protocol API, shaped like the Opentrons Python Protocol API v2."""
