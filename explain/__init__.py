"""Explanations of what the model looks at: attention maps, rollout, attributions, overlays, faithfulness."""
