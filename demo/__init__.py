"""Gradio UI building blocks, example files and bundled checkpoints."""
