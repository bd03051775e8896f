"""Self-attention blocks: ASFormer's windowed attention and what it rests on."""
