# Copyright (c) mmfacealign contributors. All rights reserved.
"""ONNX export (tools/deployment/export_onnx.py) and the onnxruntime backend (mmfacealign.deployment).

A tiny model of every family (each family's SynthFace config, narrowed through config options; random weights
saved as a checkpoint) is exported with a dynamic batch and compared with onnxruntime at batch 1 and 3; the
onnxruntime backend gives PyTorch's image-space keypoints (flip test off) on a SynthFace face; a checkpoint that
does not match its config and an operator without ONNX form at the opset are reported by name."""
import os.path as osp

import numpy as np
import pytest
import torch
from e2e_utils import load_tool

pytest.importorskip('onnxruntime')
pytest.importorskip('onnx')

from mmfacealign.apis import EXIT_CHECKPOINT_MISMATCH, CheckpointMismatchError  # noqa: E402
from mmfacealign.deployment import (  # noqa: E402
    ORTFaceAligner,
    UnsupportedOpError,
    build_model,
    export_onnx,
)

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
TINY_RESNET = {'model.backbone.base_channels': 8, 'model.backbone.stem_channels': 16}  # 64 channels at the end
TINY_GCN = {**TINY_RESNET, 'model.head.in_channels': 64, 'model.head.node_mapper.mid_channels': 16,
            'model.head.gcn.hidden_channels': 16, 'model.head.gcn.num_res_blocks': 1}
FAMILIES = {
    'baseline': ('configs/baselines/td-reg_res18-w32_1xb64-15e_synthface-128x128.py',
                 {**TINY_RESNET, 'model.head.in_channels': 64}),
    'scdf': ('configs/scdf/td-scdf_res18-w32_1xb64-15e_synthface-128x128.py', TINY_GCN),
    'scdf-dyn': ('configs/scdf/td-scdf_res18-w32_1xb64-15e_synthface-128x128.py',
                 {**TINY_GCN, 'model.head.dynamic_adjacency.source': 'node_map'}),
    'ffld': ('configs/ffld/td-ffld_res18-w32_1xb64-15e_synthface-128x128.py',
             {**TINY_RESNET, 'model.head.coarse_head.in_channels': 64, 'model.head.cropnet.mid_channels': 16,
              'model.head.stages.0.in_channels': 16, 'model.head.stages.1.in_channels': 8,
              'model.head.stages.2.in_channels': 16}),
    'odn': ('configs/odn/td-odn_res18-w32_1xb64-15e_synthface-128x128.py',
            {**TINY_RESNET, 'model.neck.in_channels': 64,
             'model.neck.gm.mid_channels': 16, 'model.neck.gm.product_channels': 64, 'model.neck.gm.out_channels': 64,
             'model.neck.dm.mid_channels': 8, 'model.neck.reduce_channels': 8, 'model.head.in_features': 128}),
    # the baseline with the occlusion output: keypoints and per-landmark occlusion probabilities
    'baseline-occ': ('configs/baselines/td-reg-occ_res18-w32_1xb64-15e_synthface-128x128.py',
                     {**TINY_RESNET, 'model.head.in_channels': 64, 'model.head.pose_cfg.in_channels': 64}),
    'srn': ('configs/srn/td-srn_pcnn-s_1xb64-15e_synthface-128x128.py',
            {'model.head.patch_cnn.channels': (4, 8, 8),
             'model.head.hsrm.region_channels': 32, 'model.head.hsrm.hidden_channels': 32,
             'model.head.hsrm.component_channels': 16}),
}


def _export_tool():
    return load_tool('tools/deployment/export_onnx.py')


def cli_options(options):
    """``--cfg-options`` words for an options dict (tuples written as ``(a,b)``, as DictAction reads them)."""
    return [f'{k}=({",".join(map(str, v))})' if isinstance(v, tuple) else f'{k}={v}' for k, v in options.items()]


def tiny_checkpoint(family, path, seed=0):
    """A random tiny model of ``family`` saved at ``path`` (SRN with a face-like mean shape); returns the model."""
    config, options = FAMILIES[family]
    torch.manual_seed(seed)
    model = build_model(osp.join(REPO, config), cfg_options=options)
    if hasattr(model.head, 'set_mean_shape'):
        from mmfacealign.datasets.synthface.mean_shape import template_shape
        shape = template_shape()
        shape = (shape - shape.min(0)) / np.ptp(shape, 0) * 0.6 + 0.2
        model.head.set_mean_shape(torch.as_tensor(shape, dtype=torch.float32))
    if family.endswith('-occ'):     # an occlusion branch far from its near-zero init: probabilities that vary
        with torch.no_grad():
            for name, p in model.head.named_parameters():
                if not name.startswith('pose_head'):
                    torch.nn.init.normal_(p, std=p[0].numel() ** -0.5 if p.dim() > 1 else 0.5)
    if family == 'srn':     # a non-zero non-local output conv and cascade steps of about a pixel: the official
        with torch.no_grad():   # init (zero output conv, std-0.01 FCs) would export a near-identity
            for m in model.head.modules():
                if isinstance(m, (torch.nn.Linear, torch.nn.Conv2d)):
                    torch.nn.init.normal_(m.weight, std=m.weight[0].numel() ** -0.5)
            if model.head.delta_unit == 'normalised':    # steps of about a pixel, not of the whole image
                model.head.hsrm.final.weight.mul_(1 / 128)
        assert model.head.non_local.conv_out.conv.weight.abs().sum() > 0
    with torch.no_grad():                              # non-trivial BN statistics
        for name, buf in model.named_buffers():
            if name.endswith('running_var'):
                buf.uniform_(0.5, 2.0)
            elif name.endswith('running_mean'):
                buf.uniform_(-0.2, 0.2)
    torch.save(dict(state_dict=model.state_dict(), meta={}), path)
    return model


@pytest.mark.parametrize('family', list(FAMILIES))
def test_export_matches_onnxruntime(family, tmp_path, capsys):
    ckpt = str(tmp_path / f'{family}.pth')
    tiny_checkpoint(family, ckpt)
    out = str(tmp_path / f'{family}.onnx')
    config, options = FAMILIES[family]
    argv = [osp.join(REPO, config), ckpt, '--out', out, '--batch', '3', '--cfg-options', *cli_options(options)]
    assert _export_tool().main(argv) == 0
    text = capsys.readouterr().out
    assert 'opset 17' in text and 'dynamic batch' in text
    diffs = [float(line.split('max abs difference ')[1].split()[0]) for line in text.splitlines()
             if line.startswith('onnxruntime vs PyTorch')]
    assert len(diffs) == 2 and max(diffs) < 1e-4, text
    import onnx
    graph = onnx.load(out).graph
    assert graph.input[0].type.tensor_type.shape.dim[0].dim_param == 'batch'
    occ = family.endswith('-occ')
    assert [o.name for o in graph.output] == (['keypoints', 'keypoints_occluded'] if occ else ['keypoints'])


def synthface_face(size=256):
    """One SynthFace test face (built-in shape model) and its landmark box."""
    from mmfacealign.datasets.synthface.generator import SynthFaceConfig, generate_sample
    from mmfacealign.datasets.synthface.shape_model import PointDistributionModel
    img, ann = generate_sample(SynthFaceConfig(image_size=size, shape_model='builtin'),
                               PointDistributionModel.builtin(), 'test', 0)
    lo, hi = ann['keypoints'].min(0), ann['keypoints'].max(0)
    return img, np.concatenate([lo - 0.1 * (hi - lo), hi + 0.1 * (hi - lo)])


@pytest.mark.parametrize('family', ['ffld', 'srn', 'baseline-occ'])
def test_ort_backend_matches_pytorch_inference(family, tmp_path):
    from mmpose.apis import inference_topdown
    ckpt = str(tmp_path / 'tiny.pth')
    config, options = FAMILIES[family]
    tiny_checkpoint(family, ckpt)
    model = build_model(osp.join(REPO, config), ckpt, cfg_options=dict(options, **{'model.test_cfg.flip_test': False}))
    export_onnx(model, str(tmp_path / 'tiny.onnx'), (128, 128))
    aligner = ORTFaceAligner(str(tmp_path / 'tiny.onnx'), osp.join(REPO, config), cfg_options=options)
    img, box = synthface_face()
    boxes = np.stack([box, box + np.array([5, -3, 9, 4])])            # two faces: a batch of 2 boxes
    ref = inference_topdown(model, img, boxes)
    got = inference_topdown(aligner, img, boxes)                     # MMPose's own function runs the ORT model
    assert len(got) == len(ref) == 2
    for r, g in zip(ref, got):
        kr, kg = r.pred_instances.keypoints, g.pred_instances.keypoints
        assert kg.shape == kr.shape == (1, 68, 2)
        assert np.abs(kg - kr).max() < 1e-3                            # image pixels (~1e-4 of the 256 image)
        assert np.allclose(g.pred_instances.bboxes, r.pred_instances.bboxes)
        if family.endswith('-occ'):                                    # the occlusion probabilities too
            pr, pg = r.pred_instances.keypoints_occluded, g.pred_instances.keypoints_occluded
            assert pg.shape == pr.shape == (1, 68) and np.abs(pg - pr).max() < 1e-4 and np.ptp(pr) > 0.05
    # xywh boxes and no boxes (the whole image)
    xywh = np.concatenate([box[:2], box[2:] - box[:2]])[None]
    assert np.abs(inference_topdown(aligner, img, xywh, bbox_format='xywh')[0].pred_instances.keypoints
                  - ref[0].pred_instances.keypoints).max() < 1e-3
    assert len(inference_topdown(aligner, img)) == 1


def test_checkpoint_mismatch_names_keys(tmp_path, capsys):
    ckpt = str(tmp_path / 'baseline.pth')
    tiny_checkpoint('baseline', ckpt)
    state = torch.load(ckpt, weights_only=False)
    state['state_dict'].pop('head.fc.weight')
    state['state_dict']['head.extra.weight'] = torch.zeros(1)
    torch.save(state, ckpt)
    config, options = FAMILIES['baseline']
    with pytest.raises(CheckpointMismatchError, match=r'missing keys in source state_dict: head\.fc\.weight') as err:
        build_model(osp.join(REPO, config), ckpt, cfg_options=options)
    assert 'unexpected key in source state_dict: head.extra.weight' in str(err.value)
    # the CLI: the full-size config against the tiny checkpoint, the demo's exit code with the shape mismatches named
    assert _export_tool().main([osp.join(REPO, config), ckpt, '--out', str(tmp_path / 'x.onnx')]) == 5
    assert EXIT_CHECKPOINT_MISMATCH == 5
    err = capsys.readouterr().err
    assert 'missing keys in source state_dict: head.fc.weight' in err
    assert 'unexpected key in source state_dict: head.extra.weight' in err
    assert 'size mismatch for backbone.conv1.weight' in err
    assert not osp.exists(tmp_path / 'x.onnx')


def test_unsupported_op_names_op_and_opset(tmp_path, capsys):
    # FFLD's and SRN's patch cropping is a grid_sample, which ONNX has from opset 16 on
    config, options = FAMILIES['srn']
    ckpt = str(tmp_path / 'srn.pth')
    model = tiny_checkpoint('srn', ckpt)
    with pytest.raises(UnsupportedOpError, match=r'aten::grid_sampler.*opset 15') as err:
        export_onnx(model, str(tmp_path / 'srn.onnx'), (128, 128), opset=15)
    assert (err.value.op, err.value.opset) == ('aten::grid_sampler', 15)
    # the CLI: exit code 3, the operator and the opset named on stderr, no ONNX file left
    tool = _export_tool()
    out = str(tmp_path / 'srn_cli.onnx')
    argv = [osp.join(REPO, config), ckpt, '--out', out, '--opset', '15', '--cfg-options', *cli_options(options)]
    assert tool.main(argv) == tool.EXIT_UNSUPPORTED == 3
    err_text = capsys.readouterr().err
    assert 'operator aten::grid_sampler cannot be exported at ONNX opset 15' in err_text, err_text
    assert not osp.exists(out)
    # an op with no ONNX form at any opset, in a head

    def svd_forward(feats):
        pooled = feats[-1]                                                # (B, 64) after the GAP neck
        return torch.linalg.svdvals(pooled.reshape(-1, 8, 8))[:, :2].reshape(-1, 1, 2).expand(-1, 68, 2)

    model = build_model(osp.join(REPO, FAMILIES['baseline'][0]), cfg_options=FAMILIES['baseline'][1])
    model.head.forward = svd_forward
    with pytest.raises(UnsupportedOpError, match=r'aten::linalg_svdvals.*opset 17'):
        export_onnx(model, str(tmp_path / 'svd.onnx'), (128, 128), opset=17)


def test_adaptive_pool_to_a_non_divisor_size_exports(tmp_path):
    """ODN's 4 x 4 pooling of the 7 x 7 map that ResNet-18 gives at 224 x 224 (its paper configs): the exporter
    refuses adaptive pooling to a size that does not divide the input's; the export rewrite computes the same
    overlapping windows as two matrix products."""
    from mmfacealign.deployment.onnx_export import _adaptive_avg_pool2d_matmul, adaptive_pool_matrix, check_onnx
    # the windows by hand: 7 -> 4 averages cells {0,1}, {1,2,3}, {3,4,5}, {5,6}
    expected = torch.zeros(4, 7)
    for row, (a, b) in enumerate(((0, 2), (1, 4), (3, 6), (5, 7))):
        expected[row, a:b] = 1 / (b - a)
    assert torch.equal(adaptive_pool_matrix(7, 4), expected)
    x = torch.randn(2, 3, 7, 9)
    torch.testing.assert_close(_adaptive_avg_pool2d_matmul(x, (4, 5)),
                               torch.nn.functional.adaptive_avg_pool2d(x, (4, 5)))
    config, options = FAMILIES['odn']
    model = build_model(osp.join(REPO, config), cfg_options=options)
    out = str(tmp_path / 'odn224.onnx')
    export_onnx(model, out, (224, 224))                 # 7 x 7 map pooled to 4 x 4
    diffs = check_onnx(model, out, (224, 224), batches=(1, 2))
    assert max(d for d, _ in diffs.values()) < 1e-4
    assert torch.nn.functional.adaptive_avg_pool2d is not _adaptive_avg_pool2d_matmul    # restored after export


# ------------------------------------------------------------------------------------------ end to end
def astronaut_bgr():
    """scikit-image's astronaut photograph (a real photo a registry package ships), BGR as OpenCV reads it."""
    skimage_data = pytest.importorskip('skimage.data')
    return np.ascontiguousarray(skimage_data.astronaut()[..., ::-1])


# landmark boxes on the astronaut: around her face, shifted, enlarged, and one partly outside the image
ASTRONAUT_BOXES = np.array([[175, 65, 275, 185], [160, 50, 270, 170], [140, 30, 310, 220], [-40, -30, 90, 110]],
                           np.float32)


@pytest.mark.parametrize('family', list(FAMILIES))
def test_end_to_end_graph_matches_the_pytorch_pipeline(family, tmp_path):
    """image + boxes -> image-pixel landmarks in one graph, against align_faces (flip test off), every family."""
    from mmfacealign.deployment.end_to_end import check_end_to_end, export_end_to_end, run_end_to_end
    from mmfacealign.deployment.onnx_export import ort_session
    ckpt = str(tmp_path / f'{family}.pth')
    tiny_checkpoint(family, ckpt)
    config, options = FAMILIES[family]
    model = build_model(osp.join(REPO, config), ckpt, cfg_options=options)
    out = str(tmp_path / f'{family}_e2e.onnx')
    names = export_end_to_end(model, out, (128, 128))
    assert names == ['keypoints', 'scores'] + (['keypoints_occluded'] if family.endswith('-occ') else [])
    image = astronaut_bgr()
    px, prob = check_end_to_end(model, out, image_bgr=image, bboxes=ASTRONAUT_BOXES)
    assert px < 0.5 and (prob is None or prob < 0.01)
    # dynamic image size and face count: one face on a crop of the photo
    got = run_end_to_end(ort_session(out), image[40:300, 100:420], ASTRONAUT_BOXES[:1] - [100, 40, 100, 40])
    assert got['keypoints'].shape == (1, 68, 2) and np.allclose(got['scores'], 1)
    one = run_end_to_end(ort_session(out), image, ASTRONAUT_BOXES[:1])
    assert np.abs(got['keypoints'] + [100, 40] - one['keypoints']).max() < 0.5


def test_end_to_end_cli_and_onnx_demo_on_a_real_photo(tmp_path, capsys):
    """The shipped real-photo model: --end-to-end export with its check, and demo/onnx_demo.py (onnxruntime, numpy
    and OpenCV only: Haar boxes mapped by the calibration in the graph's metadata) on the astronaut, against the
    PyTorch pipeline with the same detector (flip test off)."""
    import cv2

    from mmfacealign.apis import align_faces
    config = osp.join(REPO, 'configs/baselines/td-reg_res18-w32_1xb64-8e_synthface3d-real-128x128.py')
    ckpt = osp.join(REPO, 'checkpoints/td-reg_res18-w32_synthface3d-real-128x128.pth')
    out = str(tmp_path / 'aligner.onnx')
    assert _export_tool().main([config, ckpt, '--out', out, '--end-to-end']) == 0
    text = capsys.readouterr().out
    assert 'end to end' in text and 'max landmark difference' in text
    photo = str(tmp_path / 'astronaut.png')
    cv2.imwrite(photo, astronaut_bgr())
    demo = load_tool('demo/onnx_demo.py')
    res = demo.main([out, photo, '--out', str(tmp_path / 'drawn.jpg'), '--json', str(tmp_path / 'faces.json')])
    assert len(res['faces']) == 1 and osp.isfile(tmp_path / 'drawn.jpg') and osp.isfile(tmp_path / 'faces.json')
    model = build_model(config, ckpt, cfg_options={'model.test_cfg.flip_test': False})
    ref = align_faces(model, cv2.imread(photo), detector='haar')
    assert np.abs(res['boxes'][0] - ref[0]['model_bbox']).max() < 0.01      # the same calibrated Haar box
    assert np.abs(res['result']['keypoints'][0] - ref[0]['keypoints']).max() < 0.5
    with pytest.raises(SystemExit, match='not an end-to-end graph'):
        baseline = str(tmp_path / 'net.onnx')
        export_onnx(build_model(config, ckpt), baseline, (128, 128))
        demo.main([baseline, photo])


def test_end_to_end_refuses_a_decoder_it_cannot_run():
    from mmpose.codecs import MSRAHeatmap

    from mmfacealign.deployment import ExportError
    from mmfacealign.deployment.end_to_end import EndToEndAligner
    model = build_model(osp.join(REPO, FAMILIES['baseline'][0]), cfg_options=FAMILIES['baseline'][1])
    model.head.decoder = MSRAHeatmap(input_size=(128, 128), heatmap_size=(32, 32), sigma=2)
    with pytest.raises(ExportError, match='RegressionLabel.*MSRAHeatmap.*ORTFaceAligner'):
        EndToEndAligner(model, (128, 128))
