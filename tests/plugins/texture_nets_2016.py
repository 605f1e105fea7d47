"""t7convert plugin for a texture_nets net written by its 2016 code (097df07) whose
nn.SpatialCircularPadding pads by more than 1: the built-in translation is HEAD's true
circular padding, and a file does not say which of the two classes wrote it
(converter/generic/layers/texture_nets.py).

    t7convert style.t7 style.pt2 --generic --plugin texture_nets_2016.py --input-shape 3,256,256
"""

from converter import register_translation
from converter.generic.layers.texture_nets import circular_padding_2016

register_translation("nn.SpatialCircularPadding")(circular_padding_2016)
