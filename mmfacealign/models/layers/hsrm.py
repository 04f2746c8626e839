# Copyright (c) mmfacealign contributors. All rights reserved.
"""SRN's hierarchical structural relation module (HSRM) and its recurrent memory.

Zhu et al., Pattern Recognition 2022, Sec. 3.1 (Eq. 2-7, Fig. 3 and 5; the equations' symbols were lost from the
text here, so the wiring follows the official code's dimensions, ``models.py``):

* level 1 (region relations): one tanh FC per facial region over the concatenated features of its landmarks'
  patches: ``ocular`` (brows + eyes), ``snout`` (nose + mouth), ``cheek`` (jaw), 512 each;
* memory (Eq. 5): an Elman RNN, ``h_t = tanh(W [x_t, h_{t-1}] + b)`` with 512 units, whose input ``x_t`` is the
  flattened patch features before the non-local block; ``h_0 = 0`` and ``h`` is carried across the cascade
  iterations (and across video frames, Eq. 13);
* level 2 (component relations): one ReLU FC (256) per component, fed the regions that component touches and
  ``h``: brow and eye <- [ocular, snout, h]; nose and mouth <- [ocular, snout, cheek, h]; the two cheeks <- [snout,
  cheek, h];
* level 3 (landmark outputs): linear FCs over component pairs, one output per landmark of the component: brow and
  eye <- [brow, eye]; nose and mouth <- [nose, mouth]; the cheek halves <- [cheek_a, cheek_b];
* a final linear FC from the N level-3 values to the 2N shape update.

With 68 landmarks and 256 features per patch this has 20.76M parameters (the RNN's FC 9.18M, level 1 8.91M).

Ablations (the paper's Table 7 removes one part at a time; which symbol is which was lost, so each part is a
switch): removing a level feeds the next one what the removed level was fed.

* ``use_level1=False``: level-2 branches take the concatenated patch features of their regions' landmarks;
* ``use_memory=False``: no RNN, level 2 takes no ``h``;
* ``use_level2=False``: each level-3 FC takes the union of its two components' level-2 inputs;
* ``use_level3=False``: the final FC takes the concatenated level-2 outputs (6 x 256) instead of N values.
"""
from typing import Dict, List, Optional, Sequence, Tuple

import torch
from mmengine.model import BaseModule
from mmpose.registry import MODELS
from torch import Tensor, nn

from ..utils.landmark_groups import srn_hierarchy

#: Initialisations of the FCs, see :class:`HierarchicalStructuralRelation`.
FC_INITS = ('trunc_normal', 'pytorch')
#: Level-2 wiring: the regions each component branch is fed (official code's dimensions).
COMPONENT_REGIONS: Dict[str, Tuple[str, ...]] = {
    'brow': ('ocular', 'snout'), 'eye': ('ocular', 'snout'),
    'nose': ('ocular', 'snout', 'cheek'), 'mouth': ('ocular', 'snout', 'cheek'),
    'cheek_a': ('snout', 'cheek'), 'cheek_b': ('snout', 'cheek'),
}
#: Level-3 wiring: the component pair each landmark output is computed from.
COMPONENT_PAIRS: Dict[str, Tuple[str, str]] = {
    'brow': ('brow', 'eye'), 'eye': ('brow', 'eye'), 'nose': ('nose', 'mouth'), 'mouth': ('nose', 'mouth'),
    'cheek_a': ('cheek_a', 'cheek_b'), 'cheek_b': ('cheek_a', 'cheek_b'),
}


@MODELS.register_module()
class HierarchicalStructuralRelation(BaseModule):
    """The HSRM with its RNN memory: per-landmark features -> shape update (SRN Sec. 3.1, Eq. 2-7).

    Args:
        num_keypoints (int): N. Default 68.
        feat_channels (int): Features per landmark (a patch's flattened CNN output). Default 256.
        region_channels (int): Level-1 width. Default 512.
        hidden_channels (int): RNN hidden size. Default 512.
        component_channels (int): Level-2 width. Default 256.
        regions (dict, optional): Level-1 groups ``{'ocular': [...], 'snout': [...], 'cheek': [...]}``; default
            from :func:`~mmfacealign.models.utils.landmark_groups.srn_hierarchy` for N = 68, 98, 29.
        components (dict, optional): Level-3 groups ``{'brow', 'eye', 'nose', 'mouth', 'cheek_a', 'cheek_b'}``;
            default likewise. Each grouping must cover every landmark exactly once (a component may be empty).
        memory_in_channels (int, optional): Size of the RNN's input ``x_t``. Default ``N * feat_channels`` (the
            flattened patch features).
        use_level1, use_memory, use_level2, use_level3 (bool): Switch each part off (see the module docstring).
            Default True.
        fc_init (str): Initialisation of every FC. ``'trunc_normal'`` (default, the official code's): weights from
            a normal of std ``fc_init_std`` truncated at two std, biases zero. ``'pytorch'``: ``nn.Linear``'s own
            (Kaiming-uniform; earlier versions of this package).
        fc_init_std (float): The truncated normal's std. Default 0.01 (official).

    Shapes: ``forward(feats (B, N, C), memory_input (B, D) | None, h (B, H) | None) -> (delta (B, N, 2), h)``;
    ``memory_input`` is what the RNN reads (SRN: the patch features before the non-local block, D = N C).
    """

    def __init__(self, num_keypoints: int = 68, feat_channels: int = 256, region_channels: int = 512,
                 hidden_channels: int = 512, component_channels: int = 256,
                 regions: Optional[Dict[str, Sequence[int]]] = None,
                 components: Optional[Dict[str, Sequence[int]]] = None, memory_in_channels: Optional[int] = None,
                 use_level1: bool = True, use_memory: bool = True, use_level2: bool = True, use_level3: bool = True,
                 fc_init: str = 'trunc_normal', fc_init_std: float = 0.01, init_cfg=None):
        super().__init__(init_cfg=init_cfg)
        if fc_init not in FC_INITS:
            raise ValueError(f'HierarchicalStructuralRelation: fc_init must be one of {FC_INITS}, got {fc_init!r}')
        self.fc_init, self.fc_init_std = fc_init, float(fc_init_std)
        if regions is None or components is None:
            default_regions, default_components = srn_hierarchy(num_keypoints)
            regions = default_regions if regions is None else regions
            components = default_components if components is None else components
        self.regions = {k: [int(i) for i in regions[k]] for k in ('ocular', 'snout', 'cheek')}
        self.components = {k: [int(i) for i in components[k]] for k in COMPONENT_REGIONS}
        for what, groups in (('regions', self.regions), ('components', self.components)):
            covered = sorted(i for v in groups.values() for i in v)
            if covered != list(range(num_keypoints)):
                raise ValueError(f'HierarchicalStructuralRelation: {what} must cover each of the {num_keypoints} '
                                 f'landmarks exactly once, got {dict(groups)}')
        self.num_keypoints = num_keypoints
        self.use_level1, self.use_memory = use_level1, use_memory
        self.use_level2, self.use_level3 = use_level2, use_level3
        self.hidden_channels = hidden_channels

        # level 1 (Eq. 2): region -> width
        region_width = {}
        self.level1 = nn.ModuleDict()
        for name, idx in self.regions.items():
            if use_level1:
                self.level1[name] = nn.Linear(len(idx) * feat_channels, region_channels)
                region_width[name] = region_channels
            else:
                region_width[name] = len(idx) * feat_channels
        # memory (Eq. 5)
        memory_in_channels = num_keypoints * feat_channels if memory_in_channels is None else memory_in_channels
        self.memory = nn.Linear(memory_in_channels + hidden_channels, hidden_channels) if use_memory else None
        h_width = hidden_channels if use_memory else 0
        # level 2 (Eq. 6)
        self.level2 = nn.ModuleDict()
        level2_in = {c: sum(region_width[r] for r in rs) + h_width for c, rs in COMPONENT_REGIONS.items()}
        comp_width = {}
        for name in COMPONENT_REGIONS:
            if use_level2:
                self.level2[name] = nn.Linear(level2_in[name], component_channels)
                comp_width[name] = component_channels
        # level 3 (Eq. 7): one output per landmark of the component
        self.level3 = nn.ModuleDict()
        for name, pair in COMPONENT_PAIRS.items():
            if not self.components[name]:
                continue
            if use_level2:
                width = sum(comp_width[c] for c in pair)
            else:           # the union of the pair's level-2 inputs
                width = sum(region_width[r] for r in sorted(set(COMPONENT_REGIONS[pair[0]])
                                                            | set(COMPONENT_REGIONS[pair[1]]))) + h_width
            if use_level3:
                self.level3[name] = nn.Linear(width, len(self.components[name]))
        if use_level3:
            final_in = num_keypoints
        elif use_level2:
            final_in = sum(comp_width.values())
        else:
            final_in = sum(region_width.values()) + h_width
        self.final = nn.Linear(final_in, num_keypoints * 2)
        self.register_buffer('component_order', torch.tensor(
            [i for name in COMPONENT_PAIRS for i in self.components[name]], dtype=torch.long), persistent=False)
        self._init_fcs()

    def _init_fcs(self) -> None:
        if self.fc_init != 'trunc_normal':
            return
        std = self.fc_init_std
        for m in self.modules():
            if isinstance(m, nn.Linear):
                nn.init.trunc_normal_(m.weight, std=std, a=-2 * std, b=2 * std)
                nn.init.zeros_(m.bias)

    def init_weights(self) -> None:
        """mmengine's initialisation (``init_cfg``), else the FCs' ``fc_init``."""
        super().init_weights()
        if self.init_cfg is None:
            self._init_fcs()

    def init_memory(self, batch_size: int, ref: Tensor) -> Optional[Tensor]:
        """``h_0 = 0`` (B, H), or None without memory."""
        if self.memory is None:
            return None
        return ref.new_zeros(batch_size, self.hidden_channels)

    def step_memory(self, memory_input: Tensor, h: Optional[Tensor]) -> Optional[Tensor]:
        """Eq. 5 / 13: ``h_t = tanh(W [x_t, h_{t-1}] + b)``."""
        if self.memory is None:
            return None
        if h is None:
            h = self.init_memory(memory_input.shape[0], memory_input)
        return torch.tanh(self.memory(torch.cat([memory_input, h], dim=1)))

    def forward(self, feats: Tensor, memory_input: Optional[Tensor] = None,
                h: Optional[Tensor] = None) -> Tuple[Tensor, Optional[Tensor]]:
        b, n, _ = feats.shape
        if n != self.num_keypoints:
            raise ValueError(f'HierarchicalStructuralRelation: built for {self.num_keypoints} landmarks, got features '
                             f'of {n}')
        if self.memory is not None:
            h = self.step_memory(feats.flatten(1) if memory_input is None else memory_input, h)
        hs: List[Tensor] = [h] if h is not None else []

        region = {}
        for name, idx in self.regions.items():
            x = feats[:, idx].flatten(1)
            region[name] = torch.tanh(self.level1[name](x)) if self.use_level1 else x

        def level2_input(regions: Sequence[str]) -> Tensor:
            return torch.cat([region[r] for r in regions] + hs, dim=1)

        comp = {}
        if self.use_level2:
            for name, rs in COMPONENT_REGIONS.items():
                comp[name] = torch.relu(self.level2[name](level2_input(rs)))
        if not self.use_level3:
            x = torch.cat(list(comp.values()), 1) if self.use_level2 else level2_input(('ocular', 'snout', 'cheek'))
            return self.final(x).reshape(b, n, 2), h

        outs = []
        for name, pair in COMPONENT_PAIRS.items():
            if name not in self.level3:
                continue
            if self.use_level2:
                x = torch.cat([comp[c] for c in pair], dim=1)
            else:
                x = level2_input(sorted(set(COMPONENT_REGIONS[pair[0]]) | set(COMPONENT_REGIONS[pair[1]])))
            outs.append(self.level3[name](x))
        per_landmark = feats.new_zeros(b, n).index_copy(1, self.component_order, torch.cat(outs, dim=1))
        return self.final(per_landmark).reshape(b, n, 2), h
