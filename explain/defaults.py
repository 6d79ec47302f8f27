"""Defaults shared by the app and the command line, in a module that imports nothing heavy (`diffclip --help`
stays light)."""

#: The method drawn when none is chosen (the app's attribution menu, `diffclip errors`, the Errors export): the
#: cheapest listed method that puts at least twice a uniform map's mass inside the lesions for every bundled
#: model (docs/demo-models.md, "Faithfulness of the explanations"). Saliency for the bundled trio: Grad-CAM and
#: gradient-weighted attention (the previous pair's default) do not pass for its diff.
DEFAULT_METHOD = "saliency"
