"""Example strategies shipped with the desk: cross-venue taker arbitrage and a market maker."""
