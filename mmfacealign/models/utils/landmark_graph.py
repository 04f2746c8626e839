# Copyright (c) mmfacealign contributors. All rights reserved.
"""Landmark graphs: the neighbourhoods of SCDF's graph relational network and relative-location loss.

SCDF (Lin et al., TIP 2021), Sec. "landmark graph" / neighbourhood design: landmarks are graph nodes; the neighbours of
a node are the landmarks whose ground-truth coordinates are most correlated with it over the training set. With ``Cx``
and ``Cy`` the Pearson correlation matrices of the x and y coordinates, ``C = (|Cx| + |Cy|) / 2`` and node ``i`` keeps
the top-(k+1) entries of row ``i`` of ``C``, the +1 being ``i`` itself. The released code uses k = 3 for WFLW
(``top_k: 3`` in ``experiments/WLFW/config_resnet.yaml``) and hand-designed anatomical graphs for 68 and 29 points; all
are built in (see :data:`BUILTIN_GRAPHS`).

A :class:`LandmarkGraph` stores a *directed* edge list (``i -> j``: "row ``i`` lists ``j``"), as the top-k rule and
the released files produce it, and derives from it

* :meth:`LandmarkGraph.symmetric_adjacency`: the 0/1 mask of the graph convolution: edges symmetrised, plus
  self-loops (as the official ``utils/graph_utils.py`` builds it);
* :meth:`LandmarkGraph.laplacian`: the relative-location operator ``L`` with ``L_ii = 1`` and
  ``L_ij = -1/|N_i|`` for the neighbours ``N_i`` of ``i`` (self excluded), so ``(L P)_i = p_i - mean_{j in N_i} p_j``
  (SCDF, Sec. "relative location loss"; the official ``LaplacianLoss`` in ``losses/wing_loss.py``).

Two neighbourhoods for ``L``:

* ``directed=True`` (default, the official code): ``N_i`` is what row ``i`` of the directed listing names. On the
  WFLW top-3 graph every row lists exactly 3 landmarks, so each ``(L P)_i`` averages exactly 3 neighbours, as the
  released WFLW recipe does. With the hand-designed 68/29-point graphs some rows are empty (68 points: 33, 42,
  54; 29 points: 25, 28) and ``(L P)_i`` becomes the absolute position ``p_i``. The official code yields ``-p_i``
  there (its ``L`` is ``-L`` everywhere), the same under the ``|.|`` of Soft Wing. That is probably unintended,
  but it is what the code does.
* ``directed=False`` (our reading, a switch): ``N_i`` is the symmetrised neighbourhood, the same as the graph
  convolution's (3 to 7 neighbours on WFLW's top-3 graph). Neither the paper text available to us nor the official
  code says which one the paper means; this reading is useful for graphs with empty rows (every node then has a
  neighbour, so no row turns into an absolute-position term).

File format (:meth:`LandmarkGraph.save` / :meth:`LandmarkGraph.load`): plain text, ``#`` comment lines, a header
line ``# num_nodes N``, then one directed edge ``i j`` per line; a third column (the official files carry the
correlation value there) is accepted and ignored, so the official ``*.txt`` graph files load as they are.
"""
import os.path as osp
from typing import Dict, Iterable, List, Optional, Sequence, Tuple, Union

import numpy as np

from .graphs import COFW29_ANATOMICAL_EDGES, IBUG68_ANATOMICAL_EDGES, WFLW98_ANATOMICAL_EDGES, WFLW98_TOP3_EDGES

#: Built-in graphs: name -> (num_nodes, directed edges). See :mod:`mmfacealign.models.utils.graphs`.
BUILTIN_GRAPHS: Dict[str, Tuple[int, List[Tuple[int, int]]]] = {
    'wflw98_top3': (98, WFLW98_TOP3_EDGES),
    'ibug68_anatomical': (68, IBUG68_ANATOMICAL_EDGES),
    'cofw29_anatomical': (29, COFW29_ANATOMICAL_EDGES),
    'wflw98_anatomical': (98, WFLW98_ANATOMICAL_EDGES),
}

GraphLike = Union['LandmarkGraph', str, dict]


class LandmarkGraph:
    """A landmark graph on ``num_nodes`` nodes given by directed edges ``i -> j``.

    Self-loops in the input are dropped (every consumer adds them explicitly where it needs them) and duplicate
    edges are merged.

    Args:
        num_nodes (int): Number of landmarks N.
        edges (array-like): Directed edges, shape (E, 2), 0-based node indices.
        name (str, optional): A label shown in messages and written by :meth:`save`.
    """

    def __init__(self, num_nodes: int, edges: Iterable[Sequence[int]], name: Optional[str] = None):
        if int(num_nodes) <= 0:
            raise ValueError(f'LandmarkGraph: num_nodes must be positive, got {num_nodes}')
        self.num_nodes = int(num_nodes)
        self.name = name
        arr = np.asarray(list(edges) if not isinstance(edges, np.ndarray) else edges, dtype=np.int64)
        if arr.size == 0:
            arr = arr.reshape(0, 2)
        if arr.ndim != 2 or arr.shape[1] != 2:
            raise ValueError(f'LandmarkGraph {name!r}: edges must have shape (E, 2), got {arr.shape}')
        if arr.size and (arr.min() < 0 or arr.max() >= self.num_nodes):
            raise ValueError(f'LandmarkGraph {name!r}: edge index out of range [0, {self.num_nodes}): '
                             f'min {arr.min()}, max {arr.max()}')
        arr = arr[arr[:, 0] != arr[:, 1]]
        # unique, sorted row-major: a canonical order that does not depend on how the edges were listed
        self.edges = np.unique(arr, axis=0) if len(arr) else arr

    # ------------------------------------------------------------------ constructors
    @classmethod
    def from_edges(cls, edges: Iterable[Sequence[int]], num_nodes: Optional[int] = None,
                   name: Optional[str] = None) -> 'LandmarkGraph':
        """Build from directed edges; ``num_nodes`` defaults to the largest index + 1."""
        edges = [tuple(int(v) for v in e) for e in edges]
        if num_nodes is None:
            if not edges:
                raise ValueError('LandmarkGraph.from_edges: num_nodes is required for an empty edge list')
            num_nodes = max(max(e) for e in edges) + 1
        return cls(num_nodes, edges, name=name)

    @staticmethod
    def correlation_matrix(shapes: np.ndarray) -> np.ndarray:
        """``C = (|Cx| + |Cy|) / 2`` over a set of shapes (SCDF, Sec. neighbourhood design).

        Args:
            shapes (np.ndarray): Landmarks of M training faces, shape (M, N, 2).

        Returns:
            np.ndarray: (N, N) float64. ``Cx[i, j]`` is the Pearson correlation between the x coordinates of
            landmarks i and j over the M faces (``Cy`` likewise). A landmark whose coordinate never varies has
            an undefined correlation, taken as 0 (the diagonal stays 1).
        """
        shapes = np.asarray(shapes, dtype=np.float64)
        if shapes.ndim != 3 or shapes.shape[2] != 2:
            raise ValueError(f'correlation_matrix: shapes must be (M, N, 2), got {shapes.shape}')
        if shapes.shape[0] < 2:
            raise ValueError(f'correlation_matrix: need at least 2 shapes, got {shapes.shape[0]}')
        mats = []
        for axis in range(2):
            x = shapes[..., axis]                      # (M, N)
            x = x - x.mean(axis=0, keepdims=True)
            std = np.sqrt((x ** 2).sum(axis=0))        # (N,)
            with np.errstate(divide='ignore', invalid='ignore'):
                c = (x.T @ x) / np.outer(std, std)
            c[~np.isfinite(c)] = 0.
            np.fill_diagonal(c, 1.)
            mats.append(np.abs(c))
        return 0.5 * (mats[0] + mats[1])

    @classmethod
    def top_k_correlation(cls, shapes: np.ndarray, k: int = 3, name: Optional[str] = None) -> 'LandmarkGraph':
        """The top-k Pearson-correlation graph (SCDF, Sec. neighbourhood design).

        Row ``i`` of ``C`` keeps its top-(k+1) entries, ``i`` itself included; the other k become directed edges
        ``i -> j``. The node itself is always kept (``C_ii = 1`` is the row maximum anyway; ties with another
        perfectly correlated landmark cannot push it out), and ties among the others go to the lower index.

        Args:
            shapes (np.ndarray): (M, N, 2) training landmarks. Normalise each face (e.g. by its box) first,
                otherwise the face position and size in the image dominate the correlations.
            k (int): Neighbours per node, 1 <= k < N. Default 3 (the released WFLW config).
        """
        corr = cls.correlation_matrix(shapes)
        n = corr.shape[0]
        if not 1 <= int(k) < n:
            raise ValueError(f'top_k_correlation: k must be in [1, {n - 1}] for {n} landmarks, got {k}')
        edges = []
        for i in range(n):
            row = corr[i].copy()
            row[i] = np.inf                            # the +1 of top-(k+1): the node itself
            order = np.lexsort((np.arange(n), -row))   # descending value, then ascending index
            edges.extend((i, int(j)) for j in order[1:int(k) + 1])
        return cls(n, edges, name=name or f'top{k}_correlation')

    @classmethod
    def builtin(cls, name: str) -> 'LandmarkGraph':
        """A built-in graph: one of :data:`BUILTIN_GRAPHS` (``'wflw98_top3'``, ``'ibug68_anatomical'``, ...)."""
        if name not in BUILTIN_GRAPHS:
            raise KeyError(f'unknown built-in landmark graph {name!r}; known: {sorted(BUILTIN_GRAPHS)}')
        num_nodes, edges = BUILTIN_GRAPHS[name]
        return cls(num_nodes, edges, name=name)

    @classmethod
    def load(cls, path: str) -> 'LandmarkGraph':
        """Read a graph file (see the module docstring for the format)."""
        if not osp.isfile(path):
            raise FileNotFoundError(f'landmark graph file {path!r} does not exist')
        num_nodes, name, edges = None, None, []
        with open(path, encoding='utf-8') as f:
            for lineno, line in enumerate(f, 1):
                text = line.strip()
                if not text:
                    continue
                if text.startswith('#'):
                    words = text[1:].split()
                    if len(words) == 2 and words[0] == 'num_nodes':
                        num_nodes = int(words[1])
                    elif len(words) == 2 and words[0] == 'name':
                        name = words[1]
                    continue
                parts = text.replace(',', ' ').split()
                try:
                    if len(parts) not in (2, 3):
                        raise ValueError
                    i, j = int(parts[0]), int(parts[1])
                    if len(parts) == 3:
                        float(parts[2])
                except ValueError:
                    raise ValueError(f'landmark graph file {path!r}, line {lineno}: expected "i j" or "i j w", '
                                     f'got {text!r}') from None
                edges.append((i, j))
        try:
            return cls.from_edges(edges, num_nodes=num_nodes, name=name or osp.basename(path))
        except ValueError as e:
            raise ValueError(f'landmark graph file {path!r}: {e}') from None

    def save(self, path: str, comment: Optional[str] = None) -> None:
        """Write the graph as text: header ``# num_nodes N`` (and ``# name``), then one ``i j`` per line."""
        lines = ['# mmfacealign landmark graph: one directed edge "i j" per line (0-based)',
                 f'# num_nodes {self.num_nodes}']
        if self.name:
            lines.append(f'# name {self.name.replace(" ", "_")}')
        if comment:
            lines.extend(f'# {c}' for c in comment.splitlines())
        lines.extend(f'{i} {j}' for i, j in self.edges.tolist())
        with open(path, 'w', encoding='utf-8') as f:
            f.write('\n'.join(lines) + '\n')

    # ------------------------------------------------------------------ derived matrices
    @property
    def num_edges(self) -> int:
        """Number of directed edges (self-loops excluded)."""
        return len(self.edges)

    def directed_adjacency(self) -> np.ndarray:
        """(N, N) float32 0/1 matrix with ``A[i, j] = 1`` for every listed edge ``i -> j``; no self-loops."""
        adj = np.zeros((self.num_nodes, self.num_nodes), dtype=np.float32)
        if len(self.edges):
            adj[self.edges[:, 0], self.edges[:, 1]] = 1.
        return adj

    def symmetric_adjacency(self, self_loops: bool = True) -> np.ndarray:
        """(N, N) float32 0/1 mask of the graph convolution: ``A + A^T`` (clipped to 1), plus the identity if
        ``self_loops`` (470 non-zeros for ``wflw98_top3``, 266 for 68 points, 133 for 29, as the official graph files
        give)."""
        adj = self.directed_adjacency()
        adj = np.maximum(adj, adj.T)
        if self_loops:
            adj[np.arange(self.num_nodes), np.arange(self.num_nodes)] = 1.
        return adj

    def neighbours(self, i: int, directed: bool = False) -> List[int]:
        """Sorted neighbours of node ``i`` (self excluded): the symmetrised ones, or only those row ``i`` lists."""
        adj = self.directed_adjacency() if directed else self.symmetric_adjacency(self_loops=False)
        return np.flatnonzero(adj[i]).tolist()

    def laplacian(self, directed: bool = True) -> np.ndarray:
        """The relative-location operator ``L`` (SCDF, Sec. relative location loss; the official ``LaplacianLoss``).

        ``L_ii = 1`` and ``L_ij = -1/|N_i|`` for ``j`` in ``N_i``, so ``(L P)_i = p_i - mean_{j in N_i} p_j``, the
        offset of landmark ``i`` from the mean of its neighbours.

        Args:
            directed (bool): ``True`` (default, official code): ``N_i`` is what row ``i`` lists; a row with no
                out-edges (and, in either mode, an isolated node) gives ``(L P)_i = p_i``. ``False``: ``N_i`` is the
                symmetrised neighbourhood (see the module docstring).

        Returns:
            np.ndarray: (N, N) float32.
        """
        adj = self.directed_adjacency() if directed else self.symmetric_adjacency(self_loops=False)
        deg = adj.sum(axis=1, keepdims=True)
        lap = -adj / np.maximum(deg, 1.)
        lap[np.arange(self.num_nodes), np.arange(self.num_nodes)] = 1.
        return lap.astype(np.float32)

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(name={self.name!r}, num_nodes={self.num_nodes}, '
                f'num_edges={self.num_edges}, nnz_symmetric={int(self.symmetric_adjacency().sum())})')


def build_graph(cfg: GraphLike, num_nodes: Optional[int] = None) -> LandmarkGraph:
    """Build a :class:`LandmarkGraph` from what a config can hold.

    Args:
        cfg: one of

            * a :class:`LandmarkGraph`;
            * a built-in name (``'wflw98_top3'``, ``'ibug68_anatomical'``, ``'cofw29_anatomical'``,
              ``'wflw98_anatomical'``);
            * a path to a graph file (as written by ``tools/misc/build_landmark_graph.py``);
            * a dict: ``dict(name=...)``, ``dict(file=...)`` or ``dict(edges=[[i, j], ...], num_nodes=N)``.
        num_nodes (int, optional): If given, the graph must have this many nodes (e.g. the head's
            ``num_joints``); a mismatch raises a ``ValueError`` naming the graph.
    """
    if isinstance(cfg, LandmarkGraph):
        graph = cfg
    elif isinstance(cfg, str):
        if cfg in BUILTIN_GRAPHS:
            graph = LandmarkGraph.builtin(cfg)
        elif osp.isfile(cfg):
            graph = LandmarkGraph.load(cfg)
        else:
            raise ValueError(f'landmark graph {cfg!r} is neither a built-in graph ({sorted(BUILTIN_GRAPHS)}) '
                             'nor an existing file')
    elif isinstance(cfg, dict):
        keys = set(cfg) - {'type'}
        if 'name' in cfg and keys == {'name'}:
            graph = LandmarkGraph.builtin(cfg['name'])
        elif 'file' in cfg and keys == {'file'}:
            graph = LandmarkGraph.load(cfg['file'])
        elif 'edges' in cfg and keys <= {'edges', 'num_nodes', 'name'}:
            graph = LandmarkGraph.from_edges(cfg['edges'], num_nodes=cfg.get('num_nodes'), name=cfg.get('name'))
        else:
            raise ValueError(f'landmark graph dict {cfg!r}: expected exactly one of dict(name=...), '
                             'dict(file=...), dict(edges=..., num_nodes=...)')
    else:
        raise TypeError(f'landmark graph must be a LandmarkGraph, a name, a file path or a dict, got {type(cfg)}')
    if num_nodes is not None and graph.num_nodes != int(num_nodes):
        raise ValueError(f'landmark graph {graph.name!r} has {graph.num_nodes} nodes, expected {num_nodes}')
    return graph
