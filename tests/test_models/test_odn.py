# Copyright (c) mmfacealign contributors. All rights reserved.
"""ODN: geometry-aware and distillation modules, the low-rank module and its regularisers, the neck and head,
the truncated backbone, and the Table 4 variants."""
import glob
import math
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmpose.models import build_pose_estimator
from mmpose.models.backbones import ResNet
from mmpose.models.backbones.resnet import BasicBlock
from mmpose.registry import MODELS
from mmpose.testing import get_packed_inputs
from mmpose.utils import register_all_modules

from mmfacealign.models import (
    DistillationModule,
    FrobeniusNormLoss,
    GeometryAwareModule,
    LowRankModule,
    LowRankRegressionHead,
    MapL1Loss,
    NuclearNormLoss,
    OcclusionAdaptiveNeck,
    TruncatedResNet,
    channel_matrix_product,
    nuclear_norm,
)

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


@pytest.mark.parametrize('size', [(7, 7), (4, 4), (6, 9), (9, 6), (1, 1)])
def test_blocks_keep_the_map_size(size):
    torch.manual_seed(0)
    x = torch.rand(2, 16, *size)
    gm = GeometryAwareModule(16, out_channels=24, mid_channels=8, product_channels=12)
    assert gm(x).shape == (2, 24, *size)
    clean, logits = DistillationModule(16, mid_channels=4)(x)
    assert clean.shape == x.shape and logits.shape == (2, 1, *size)


def test_channel_matrix_product_against_a_loop():
    torch.manual_seed(0)
    for h, w in ((5, 5), (3, 5), (5, 3)):
        a, b = torch.rand(2, 3, h, w), torch.rand(2, 3, h, w)
        out = channel_matrix_product(a, b)
        expected = torch.zeros(2, 3, h, w)
        for n in range(2):
            for c in range(3):
                for i in range(h):
                    for j in range(w):
                        # row i of A meets column j of B over the positions both have (zero padding)
                        expected[n, c, i, j] = sum(a[n, c, i, k] * b[n, c, k, j] for k in range(min(h, w)))
        torch.testing.assert_close(out, expected)
        if h == w:
            torch.testing.assert_close(out[1, 2], a[1, 2] @ b[1, 2])     # the plain matrix product
    with pytest.raises(ValueError, match='one shape'):
        channel_matrix_product(torch.rand(1, 2, 3, 3), torch.rand(1, 2, 3, 4))


def test_distillation_weights_pathway_c_by_sigmoid_p():
    torch.manual_seed(0)
    dm = DistillationModule(8, mid_channels=4, gate_init='conv').eval()      # a gate that varies by position
    x = torch.rand(1, 8, 5, 5)
    clean, logits = dm(x)
    assert logits.std() > 0
    torch.testing.assert_close(clean, dm.pathway_c(x) * torch.sigmoid(logits))


def test_nuclear_norm_value_and_subgradient():
    torch.manual_seed(0)
    m = torch.randn(6, 6, dtype=torch.float64, requires_grad=True)
    u, s, vh = torch.linalg.svd(m.detach())
    value = nuclear_norm(m)
    torch.testing.assert_close(value, s.sum())
    value.backward()
    torch.testing.assert_close(m.grad, u @ vh)                            # full rank: U V^T (Eq. 8)
    # rank-deficient: finite, and the zero singular values contribute nothing (sign(0) = 0)
    r = torch.randn(6, 2, dtype=torch.float64) @ torch.randn(2, 6, dtype=torch.float64)
    r.requires_grad_(True)
    nuclear_norm(r).backward()
    u, s, vh = torch.linalg.svd(r.detach())
    assert torch.isfinite(r.grad).all()
    torch.testing.assert_close(r.grad, u[:, :2] @ vh[:2], atol=1e-8, rtol=1e-6)
    # repeated singular values (the identity, LowRankModule's initialisation): U V^T = I, where autograd through
    # the full SVD gives NaN; the zero matrix: the zero subgradient
    eye = torch.eye(5, dtype=torch.float64, requires_grad=True)
    nuclear_norm(eye).backward()
    torch.testing.assert_close(eye.grad, torch.eye(5, dtype=torch.float64))
    zero = torch.zeros(4, 4, dtype=torch.float64, requires_grad=True)
    nuclear_norm(zero).backward()
    torch.testing.assert_close(zero.grad, torch.zeros(4, 4, dtype=torch.float64))
    # repeated AND vanishing: Q diag(2, 2, 1, 0) Q^T -> Q diag(1, 1, 1, 0) Q^T (svdvals' autograd gives Q Q^T = I)
    q, _ = torch.linalg.qr(torch.randn(4, 4, dtype=torch.float64))
    both = (q @ torch.diag(torch.tensor([2., 2., 1., 0.], dtype=torch.float64)) @ q.T).requires_grad_(True)
    nuclear_norm(both).backward()
    expected = q @ torch.diag(torch.tensor([1., 1., 1., 0.], dtype=torch.float64)) @ q.T
    torch.testing.assert_close(both.grad, expected, atol=1e-8, rtol=1e-6)
    torch.testing.assert_close(nuclear_norm(torch.eye(5)), torch.tensor(5.))
    with pytest.raises(ValueError, match='matrix'):
        nuclear_norm(torch.rand(2, 3, 4))
    with pytest.raises(FloatingPointError, match=r'1 of 9 entries of the \(3, 3\) matrix are NaN or Inf'):
        nuclear_norm(torch.tensor([[1., 0, 0], [0, float('nan'), 0], [0, 0, 1]]))


def test_regulariser_losses_by_hand():
    m = torch.tensor([[3., 0.], [0., -4.]])
    assert NuclearNormLoss(loss_weight=0.5)(m).item() == pytest.approx(3.5)   # (3 + 4) / 2
    assert FrobeniusNormLoss(loss_weight=0.1)(m).item() == pytest.approx(2.5)  # (9 + 16) / 10
    maps = torch.tensor([[[[0.5, -1.]]], [[[2., 0.]]]])                       # |.| sums 1.5 and 2
    assert MapL1Loss(loss_weight=2.)(maps).item() == pytest.approx(3.5)       # mean 1.75, x2
    defaults = (NuclearNormLoss().loss_weight, FrobeniusNormLoss().loss_weight, MapL1Loss().loss_weight)
    assert defaults == (1e-6, 1e-5, 1e-6)                                     # beta, gamma, eta (Sec. 5)
    assert isinstance(MODELS.build(dict(type='NuclearNormLoss')), NuclearNormLoss)


def test_low_rank_summary_by_hand():
    from mmfacealign.models.losses import low_rank_summary
    eye = low_rank_summary(torch.eye(4))
    assert eye['dist_identity'] == 0 and eye['effective_rank'] == pytest.approx(4) and eye['numerical_rank'] == 4
    # diag(3, 1, 0, 0): ||M||_* 4, ||M||_F^2 10, ||M - I||_F = sqrt(4 + 0 + 1 + 1), p = (3/4, 1/4)
    m = torch.diag(torch.tensor([3., 1., 0., 0.]))
    r = low_rank_summary(m)
    assert r['nuclear'] == pytest.approx(4) and r['frobenius_sq'] == pytest.approx(10)
    assert r['dist_identity'] == pytest.approx(6 ** 0.5) and r['rel_dist_identity'] == pytest.approx(6 ** 0.5 / 2)
    entropy = -(0.75 * math.log(0.75) + 0.25 * math.log(0.25))
    assert r['effective_rank'] == pytest.approx(math.exp(entropy)) and r['numerical_rank'] == 2
    # an orthogonal M far from I: singular values all 1 (full effective rank), distance sqrt(2 d) for -I
    r = low_rank_summary(-torch.eye(4))
    assert r['effective_rank'] == pytest.approx(4) and r['dist_identity'] == pytest.approx(4.)
    with pytest.raises(ValueError, match='square'):
        low_rank_summary(torch.rand(3, 4))


def test_low_rank_module():
    lm = LowRankModule(6)
    x = torch.rand(3, 6)
    torch.testing.assert_close(lm(x), x)                                      # identity at initialisation
    with torch.no_grad():
        lm.weight.copy_(torch.arange(36.).reshape(6, 6))
    torch.testing.assert_close(lm(x), x @ lm.weight)                          # M^T X for column vectors
    q = LowRankModule(6, init='orthogonal').weight
    torch.testing.assert_close(q @ q.T, torch.eye(6), atol=1e-5, rtol=0)
    with pytest.raises(ValueError, match=r'\(B, 6\)'):
        lm(torch.rand(3, 5))


def test_truncated_resnet_removes_the_last_unit():
    ours, ref = TruncatedResNet(depth=18), ResNet(depth=18)
    assert len(ours.layer4) == 1 and len(ref.layer4) == 2
    missing, unexpected = ours.load_state_dict(ref.state_dict(), strict=False)
    assert not missing and unexpected and all(k.startswith('layer4.1.') for k in unexpected)
    ours.eval()
    assert ours(torch.rand(1, 3, 224, 224))[-1].shape == (1, 512, 7, 7)
    with pytest.raises(ValueError, match='num_removed_blocks'):
        TruncatedResNet(depth=18, num_removed_blocks=2)


@pytest.mark.parametrize('use_gm,use_dm', [(True, True), (True, False), (False, True), (False, False)])
def test_neck_variants(use_gm, use_dm):
    neck = OcclusionAdaptiveNeck(in_channels=32, use_gm=use_gm, use_dm=use_dm, gm=dict(mid_channels=8,
                                 product_channels=8), dm=dict(mid_channels=4), reduce_channels=8, pool_size=2)
    out = neck((torch.rand(2, 32, 7, 7), ))
    assert out[0].shape == (2, 8, 2, 2) and neck.num_features == 32
    assert len(out) == (2 if use_dm else 1)
    if use_dm:
        assert out[1].shape == (2, 1, 7, 7)
    assert hasattr(neck, 'plain') == (not use_dm)     # the residual unit: BRNet alone, +GM+LM beside GM


def _odn(**head):
    return build_pose_estimator(dict(
        type='TopdownPoseEstimator',
        data_preprocessor=dict(type='PoseDataPreprocessor', mean=[123.675, 116.28, 103.53],
                               std=[58.395, 57.12, 57.375], bgr_to_rgb=True),
        backbone=dict(type='TruncatedResNet', depth=18, base_channels=16, init_cfg=None),
        neck=dict(type='OcclusionAdaptiveNeck', in_channels=128, gm=dict(mid_channels=16, product_channels=16),
                  dm=dict(mid_channels=8), reduce_channels=8, pool_size=4),
        head=dict(type='LowRankRegressionHead', in_features=128, num_joints=68, **head),
        test_cfg=dict(flip_test=True)))


def test_head_loss_terms_by_hand_and_gradients():
    register_all_modules()
    model = _odn()
    packed = get_packed_inputs(batch_size=2, num_keypoints=68, img_shape=(224, 224), input_size=(224, 224),
                               with_heatmap=False, with_simcc_label=False)
    data = model.data_preprocessor(packed, training=True)
    m = model.head.low_rank.weight
    with torch.no_grad():                       # away from the identity, so the norms are not just d beta, d gamma
        m.copy_(torch.eye(m.shape[0]) + 0.3 * torch.randn(m.shape))
    losses = model(**data, mode='loss')
    assert set(losses) == {'loss_kpt', 'loss_nuclear', 'loss_frobenius', 'loss_map_l1', 'acc_pose'}
    torch.testing.assert_close(losses['loss_nuclear'], 1e-6 * torch.linalg.svdvals(m.detach()).sum())
    torch.testing.assert_close(losses['loss_frobenius'], 1e-5 * (m.detach() ** 2).sum())
    sum(v for k, v in losses.items() if k.startswith('loss')).backward()
    assert [n for n, p in model.named_parameters() if p.grad is None] == []   # DDP: nothing unused
    # the L2 term: summed squared error of the normalised coordinates, mean over the batch
    feats = model.extract_feat(data['inputs'])
    labels = torch.cat([d.gt_instance_labels.keypoint_labels for d in data['data_samples']])
    pred = model.head(feats)
    torch.testing.assert_close(losses['loss_kpt'], ((pred - labels) ** 2).sum((1, 2)).mean())
    # the L1 term on sigmoid(P) by default, on P with map_l1_on='logits'
    torch.testing.assert_close(losses['loss_map_l1'], 1e-6 * feats[1].sigmoid().abs().flatten(1).sum(1).mean())
    model.head.map_l1_on = 'logits'
    losses = model(**data, mode='loss')
    torch.testing.assert_close(losses['loss_map_l1'], 1e-6 * feats[1].abs().flatten(1).sum(1).mean())
    model.head.map_l1_on = 'probability'
    model.eval()
    with torch.no_grad():
        preds = model(**model.data_preprocessor(packed, training=False), mode='predict')
    assert preds[0].pred_instances.keypoints.shape == (1, 68, 2)


def test_head_switches_and_errors():
    no_m = LowRankRegressionHead(in_features=8, num_joints=3, low_rank=None)
    assert no_m.low_rank is None and no_m.nuclear_loss is None and no_m.frobenius_loss is None
    with pytest.raises(ValueError, match='map_l1_on'):
        LowRankRegressionHead(in_features=8, num_joints=3, map_l1_on='p')
    with pytest.raises(ValueError, match=r'the neck gave 12 features per image \(a map of \(3, 2, 2\)\), but '
                                         r'in_features=8'):
        no_m((torch.rand(1, 3, 2, 2), ))


def test_table4_configs_switch_their_modules_off():
    """Every ablation config builds, with exactly the modules of its row of the paper's Table 4."""
    register_all_modules()
    expected = {'brnet': (False, False, False, True), 'gm-dm': (True, True, False, True),
                'dm-lm': (False, True, True, True), 'gm-lm': (True, False, True, True),
                'all-no-l1': (True, True, True, False)}
    paths = sorted(glob.glob(osp.join(REPO, 'configs', 'odn', 'ablation', 'td-odn-t4-*.py')))
    assert len(paths) == len(expected)
    for path in paths:
        variant = osp.basename(path).split('_')[0][len('td-odn-t4-'):]
        model = build_pose_estimator(Config.fromfile(path).model)
        has_l1 = model.head.map_loss is not None
        got = (model.neck.use_gm, model.neck.use_dm, model.head.low_rank is not None, has_l1)
        assert got == expected[variant], (variant, got)


@pytest.mark.parametrize('name', ['td-odn_res18_1xb64-210e_300w-224x224.py',
                                  'td-odn_res18-w32_1xb64-15e_synthface-128x128.py'])
def test_alpha_lambda_are_weight_decay_on_conv_and_fc_weights(name):
    """Eq. 3's alpha ||W_c||^2 and lambda ||W_fc||^2: decay 2 alpha on every conv weight, 2 lambda on the FC weight,
    none on M (gamma is a loss term), BN parameters or biases."""
    from mmengine.optim import build_optim_wrapper
    register_all_modules()
    cfg = Config.fromfile(osp.join(REPO, 'configs', 'odn', name))
    cfg.model.backbone.init_cfg = None
    model = build_pose_estimator(cfg.model)
    cfg.optim_wrapper.paramwise_cfg.custom_keys['head.fc.weight'] = dict(decay_mult=3.)  # lambda = 3 alpha
    groups = build_optim_wrapper(model, cfg.optim_wrapper).optimizer.param_groups
    decay = {id(p): g['weight_decay'] for g in groups for p in g['params']}
    alpha = cfg.odn_alpha
    seen = set()
    for mod_name, module in model.named_modules():
        for p_name, p in module.named_parameters(recurse=False):
            full = f'{mod_name}.{p_name}'
            if isinstance(module, torch.nn.Conv2d) and p_name == 'weight':
                want = 2 * alpha
            elif full == 'head.fc.weight':
                want = 2 * alpha * 3.
            else:                                   # BN weight/bias, conv/FC biases, head.low_rank.weight (M)
                want = 0.
            assert decay[id(p)] == pytest.approx(want), full
            seen.add(full)
    assert {'head.low_rank.weight', 'head.fc.weight', 'head.fc.bias'} <= seen


def test_gm_lm_row_keeps_the_residual_unit_beside_gm():
    """Table 4's "+GM+LM": GM is added to the baseline, whose last residual unit stays (Pathway-C without the
    gate); ``residual_without_dm=False`` is GM alone in its place."""
    torch.manual_seed(0)
    x = torch.rand(2, 32, 7, 7)
    kw = dict(in_channels=32, use_dm=False, gm=dict(mid_channels=8, product_channels=8, out_channels=16),
              reduce_channels=4, pool_size=2)
    neck = OcclusionAdaptiveNeck(**kw).eval()
    assert isinstance(neck.plain, BasicBlock) and neck.reduce.conv.in_channels == 16 + 32
    gm_only = OcclusionAdaptiveNeck(**kw, residual_without_dm=False).eval()
    assert not hasattr(gm_only, 'plain') and gm_only.reduce.conv.in_channels == 16
    # the residual unit's output reaches the hybrid map: changing its weights changes the output
    out = neck((x, ))[0]
    with torch.no_grad():
        neck.plain.conv2.weight.mul_(3.)
    assert not torch.allclose(out, neck((x, ))[0])


def test_residual_block_loads_the_removed_unit(tmp_path):
    """``residual_init_cfg`` loads ResNet-18's last unit (``layer4.1.*``) into BRNet's plain block and Pathway-C,
    so the Table 4 baseline is the pretrained ResNet-18 (a local checkpoint stands in for torchvision's)."""
    torch.manual_seed(0)
    resnet = ResNet(depth=18, base_channels=4)
    ckpt = str(tmp_path / 'resnet.pth')
    torch.save({k: v for k, v in resnet.state_dict().items()}, ckpt)
    init = dict(type='Pretrained', checkpoint=ckpt, prefix='layer4.1.')
    for use_dm in (False, True):
        neck = OcclusionAdaptiveNeck(in_channels=32, use_gm=False, use_dm=use_dm, dm=dict(mid_channels=4),
                                     reduce_channels=4, pool_size=2, residual_init_cfg=init)
        neck.init_weights()
        block = neck.dm.pathway_c if use_dm else neck.plain
        for name, value in block.state_dict().items():
            torch.testing.assert_close(value, resnet.layer4[1].state_dict()[name], msg=name)
    with pytest.raises(ValueError, match=r'model.neck.in_channels=32'):
        neck((torch.rand(1, 16, 4, 4), ))


def test_distillation_gate_starts_as_a_pass_through():
    """Pathway-D's last conv starts at zero weight and bias 3: sigmoid(P) = 0.953 everywhere, also after the
    runner's init_weights (each ConvModule re-initialises itself there); 'conv' keeps mmcv's Kaiming init."""
    torch.manual_seed(0)
    x = torch.rand(2, 32, 7, 7)
    dm = DistillationModule(in_channels=32, mid_channels=8)
    dm.init_weights()
    clean, logits = dm(x)
    torch.testing.assert_close(torch.sigmoid(logits), torch.full_like(logits, torch.sigmoid(torch.tensor(3.)).item()))
    torch.testing.assert_close(clean, dm.pathway_c(x) * torch.sigmoid(torch.tensor(3.)))
    # the gate still learns: its weight gets a gradient
    logits.sum().backward()
    assert dm.pathway_d[-1].conv.weight.grad.abs().sum() > 0
    kaiming = DistillationModule(in_channels=32, mid_channels=8, gate_init='conv')
    kaiming.init_weights()
    assert kaiming.pathway_d[-1].conv.weight.abs().sum() > 0
    with pytest.raises(ValueError, match='gate_init must be one of'):
        DistillationModule(in_channels=32, gate_init='zeros')


def test_gm_products_position_dependence():
    """'matmul' (default) depends on absolute position; 'outer' (per-position channel outer product) commutes with
    a circular shift of the map."""
    torch.manual_seed(0)
    x = torch.rand(2, 8, 5, 5)
    shifted = torch.roll(x, shifts=2, dims=-1)
    for product in ('matmul', 'outer'):
        gm = GeometryAwareModule(8, out_channels=6, mid_channels=4, product_channels=3, product=product).eval()
        # pathways with 1x1 kernels only so that the pathways themselves commute with the shift
        for path in (gm.pathway_a, gm.pathway_b):
            path[1].conv.padding, path[1].conv.weight.data = (0, 0), path[1].conv.weight.data[..., 1:2, 1:2] \
                if path[1].conv.kernel_size == (3, 3) else path[1].conv.weight.data[..., 2:3, 2:3]
            path[1].conv.kernel_size = (1, 1)
        out, out_shifted = gm(x), gm(shifted)
        same = torch.allclose(torch.roll(out, shifts=2, dims=-1), out_shifted, atol=1e-5)
        assert same == (product == 'outer'), product
    assert GeometryAwareModule(8, product_channels=3, product='outer').fuse.conv.in_channels == 9
    with pytest.raises(ValueError, match='product must be one of'):
        GeometryAwareModule(8, product='kron')


@pytest.mark.parametrize('size,out', [((7, 7), 4), ((4, 4), 4), ((5, 6), (3, 2))])
def test_matmul_adaptive_pool_equals_pytorch_values_and_gradients(size, out):
    """ODN's down-sampling pool: PyTorch's adaptive bins as two matrix products (deterministic CUDA backward)."""
    from mmfacealign.models.layers.adaptive_pool import MatmulAdaptiveAvgPool2d
    x = torch.randn(2, 3, *size, dtype=torch.float64, requires_grad=True)
    y = x.detach().clone().requires_grad_(True)
    a, b = MatmulAdaptiveAvgPool2d(out)(x), torch.nn.AdaptiveAvgPool2d(out)(y)
    torch.testing.assert_close(a, b)
    w = torch.randn_like(a)
    (a * w).sum().backward()
    (b * w).sum().backward()
    torch.testing.assert_close(x.grad, y.grad)
