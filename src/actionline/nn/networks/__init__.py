"""Whole backbone networks (3D ResNets, HATNet, ViTs) and the blocks only they use."""
