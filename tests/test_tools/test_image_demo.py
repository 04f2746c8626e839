# Copyright (c) mmfacealign contributors. All rights reserved.
"""demo/image_demo.py and mmfacealign.apis' image inference on real photos that registry packages ship.

The model is a random-weight baseline saved as a checkpoint: these tests check the plumbing (detection, boxes,
files, errors), not the accuracy of the landmarks.
"""
import json
import os.path as osp
import sys

import cv2
import numpy as np
import pytest
import torch

from demo.image_demo import EXIT_BAD_CHECKPOINT, EXIT_NO_FACE, EXIT_UNAVAILABLE, EXIT_UNREADABLE, main
from mmfacealign.apis import (
    CheckpointMismatchError,
    DetectorUnavailable,
    align_faces,
    build_detector,
    detect_faces,
    load_aligner,
)
from mmfacealign.apis.face_detectors import DEFAULT_DETECTOR, MTCNNDetector
from mmfacealign.evaluation.real_photos import ASTRONAUT_FACE
from mmfacealign.utils.boxes import box_iou

CONFIG = 'configs/baselines/td-reg_res18-w32_1xb64-15e_synthface-128x128.py'
skimage_data = pytest.importorskip('skimage.data')


@pytest.fixture(scope='module')
def setup(tmp_path_factory, repo_root):
    """Images (astronaut, a blank one, a broken file) and a random-weight checkpoint, plus a mismatching one."""
    from mmfacealign.apis import init_model
    root = tmp_path_factory.mktemp('image_demo')
    config = osp.join(repo_root, CONFIG)
    model = init_model(config, None)
    # the head predicts the template face shape in every box (zero weights, the shape as bias), so the drawings
    # have a face-sized layout to draw; random weights put all 68 points close together, on some draws so close
    # that contour lines added no pixel to the points
    from mmfacealign.datasets.synthface.mean_shape import template_shape
    shape = (np.asarray(template_shape(), np.float32) * 0.35 + 0.5).reshape(-1)         # normalised, in [0.15, 0.85]
    with torch.no_grad():
        model.head.fc.weight.zero_()
        model.head.fc.bias.copy_(torch.from_numpy(shape))
    ckpt = str(root / 'random.pth')
    torch.save(dict(state_dict=model.state_dict(), meta=dict(dataset_meta=model.dataset_meta)), ckpt)
    state = model.state_dict()
    state.pop('head.fc.weight')
    state['head.extra_layer.weight'] = torch.zeros(3)
    bad = str(root / 'mismatch.pth')
    torch.save(dict(state_dict=state), bad)
    images = root / 'images'
    images.mkdir()
    cv2.imwrite(str(images / 'astronaut.png'), skimage_data.astronaut()[..., ::-1])
    cv2.imwrite(str(images / 'blank.png'), np.full((240, 320, 3), 127, np.uint8))
    (images / 'broken.jpg').write_text('not an image')
    (images / 'notes.txt').write_text('not an image either, and not listed')
    return dict(root=root, config=config, ckpt=ckpt, bad=bad, images=images, model=model,
                num_keypoints=model.dataset_meta['num_keypoints'])


def test_demo_finds_the_astronaut_and_writes_image_and_json(setup, capsys):
    out = setup['root'] / 'out_single'
    img = str(setup['images'] / 'astronaut.png')
    summary = main([img, setup['config'], setup['ckpt'], '--out-dir', str(out)])
    assert summary['faces'] == 1 and '1 face(s)' in capsys.readouterr().out
    drawn = cv2.imread(str(out / 'astronaut.png'))
    assert drawn.shape == (512, 512, 3)
    assert not np.array_equal(drawn, cv2.imread(img))                     # something was drawn
    with open(out / 'astronaut.json') as f:
        record = json.load(f)
    assert record['image'] == img and record['image_size'] == [512, 512]
    (face, ) = record['faces']
    assert box_iou(face['bbox'], ASTRONAUT_FACE)[0, 0] > 0.7               # the default detector's box
    assert np.array(face['keypoints']).shape == (setup['num_keypoints'], 2)
    assert len(face['keypoint_scores']) == setup['num_keypoints']
    # --out (one image, the first version's CLI) and user boxes: two faces, no detector
    out_file = str(setup['root'] / 'legacy' / 'drawn.png')
    summary = main([img, setup['config'], setup['ckpt'], '--out', out_file, '--bbox', '10', '10', '110', '130',
                    '--bbox', *map(str, ASTRONAUT_FACE)])
    assert summary['faces'] == 2 and cv2.imread(out_file).shape == (512, 512, 3)
    with open(out_file[:-4] + '.json') as f:
        assert [b['bbox'] for b in json.load(f)['faces']] == [[10, 10, 110, 130], list(ASTRONAUT_FACE)]
    # --no-contours: the same landmarks as points only, so fewer pixels differ from the photo
    points_file = str(setup['root'] / 'legacy' / 'points.png')
    main([img, setup['config'], setup['ckpt'], '--out', points_file, '--bbox', *map(str, ASTRONAUT_FACE),
          '--no-bbox', '--no-contours'])
    lines_file = str(setup['root'] / 'legacy' / 'lines.png')
    main([img, setup['config'], setup['ckpt'], '--out', lines_file, '--bbox', *map(str, ASTRONAUT_FACE), '--no-bbox'])
    photo = cv2.imread(img).astype(int)
    changed = [(np.abs(cv2.imread(f).astype(int) - photo).sum(-1) > 0).sum() for f in (points_file, lines_file)]
    assert 0 < changed[0] < changed[1], changed


def test_demo_on_a_folder_and_a_glob(setup, capsys):
    out = setup['root'] / 'out_folder'
    images = setup['images']
    summary = main([str(images), setup['config'], setup['ckpt'], '--out-dir', str(out), '--detector', 'haar'])
    assert summary['images'] == 3 and summary['processed'] == 2              # notes.txt is not an image
    assert summary['unreadable'] == [str(images / 'broken.jpg')]
    assert summary['no_face'] == [str(images / 'blank.png')]
    captured = capsys.readouterr()
    assert f"cannot read image {str(images / 'broken.jpg')!r}" in captured.err
    assert 'no face found in 1 image(s)' in captured.out and '1 unreadable image(s) skipped' in captured.out
    with open(out / 'blank.json') as f:
        assert json.load(f)['faces'] == []
    with open(out / 'astronaut.json') as f:
        assert len(json.load(f)['faces']) == 1
    assert not (out / 'broken.jpg').exists()
    # a glob: only the png files
    out = setup['root'] / 'out_glob'
    summary = main([str(images / '*.png'), setup['config'], setup['ckpt'], '--out-dir', str(out), '--detector',
                    'haar'])
    assert summary['images'] == 2 and summary['unreadable'] == [] and summary['faces'] == 1
    assert sorted(p.name for p in out.iterdir()) == ['astronaut.json', 'astronaut.png', 'blank.json', 'blank.png']


def test_demo_errors(setup, capsys):
    images, cfg, ckpt = setup['images'], setup['config'], setup['ckpt']
    out = str(setup['root'] / 'out_errors')
    for bad_image in (str(images / 'broken.jpg'), str(images / 'missing.png')):
        with pytest.raises(SystemExit) as e:
            main([bad_image, cfg, ckpt, '--out-dir', out])
        assert e.value.code == EXIT_UNREADABLE and f'cannot read image {bad_image!r}' in capsys.readouterr().err
    with pytest.raises(SystemExit) as e:
        main([str(images / 'blank.png'), cfg, ckpt, '--out-dir', out, '--detector', 'haar'])
    err = capsys.readouterr().err
    assert e.value.code == EXIT_NO_FACE and 'no face found in' in err and '--bbox' in err
    with pytest.raises(SystemExit) as e:
        main([str(images / '*.gif'), cfg, ckpt, '--out-dir', out])
    assert e.value.code == EXIT_UNREADABLE and 'no image found' in capsys.readouterr().err
    with pytest.raises(SystemExit) as e:
        main([str(images / 'astronaut.png'), cfg, setup['bad'], '--out-dir', out])
    err = capsys.readouterr().err
    assert e.value.code == EXIT_BAD_CHECKPOINT
    assert 'missing keys in source state_dict: head.fc.weight' in err
    assert 'unexpected key in source state_dict: head.extra_layer.weight' in err
    with pytest.raises(SystemExit) as e:                # the onnxruntime backend without its model
        main([str(images / 'astronaut.png'), cfg, '--out-dir', out, '--backend', 'onnxruntime'])
    assert e.value.code == 2 and '--backend onnxruntime needs the exported model' in capsys.readouterr().err


def test_demo_onnxruntime_backend(setup, capsys):
    """--backend onnxruntime gives PyTorch's landmarks (when the deployment module is installed), or says it is
    not available."""
    from mmfacealign.apis.image_inference import BackendUnavailable, ort_backend
    img = str(setup['images'] / 'astronaut.png')
    box = ['--bbox', *map(str, ASTRONAUT_FACE)]
    onnx_path = str(setup['root'] / 'random.onnx')
    try:
        ort_backend()
    except BackendUnavailable:
        with pytest.raises(SystemExit) as e:
            main([img, setup['config'], '--out-dir', str(setup['root'] / 'out_ort'), '--backend', 'onnxruntime',
                  '--onnx', onnx_path, *box])
        assert e.value.code == EXIT_UNAVAILABLE and 'onnxruntime backend is not available' in capsys.readouterr().err
        return
    from mmfacealign.apis import input_size_of
    from mmfacealign.deployment import export_onnx
    export_onnx(setup['model'], onnx_path, input_size_of(setup['model'].cfg))
    out = setup['root'] / 'out_onnxruntime'
    main([img, setup['config'], '--out-dir', str(out), '--backend', 'onnxruntime', '--onnx', onnx_path, *box])
    with open(out / 'astronaut.json') as f:
        ort_kpts = np.array(json.load(f)['faces'][0]['keypoints'])
    # onnxruntime runs without the flip test: compare with PyTorch without it
    pt = load_aligner(setup['config'], setup['ckpt'], cfg_options={'model.test_cfg.flip_test': False})
    pt_kpts = align_faces(pt, cv2.imread(img), bboxes=[ASTRONAUT_FACE])[0]['keypoints']
    np.testing.assert_allclose(ort_kpts, pt_kpts, atol=0.02)                 # the json rounds to 0.01 px


def test_api_boxes_mismatch_and_no_strict(setup):
    model = setup['model']
    img = cv2.imread(str(setup['images'] / 'astronaut.png'))
    boxes = [[170, 50, 280, 190], [0, 0, 100, 100]]
    faces = align_faces(model, img, bboxes=boxes)
    assert len(faces) == 2
    np.testing.assert_allclose(faces[1]['bbox'], boxes[1])
    assert faces[0]['keypoints'].shape == (setup['num_keypoints'], 2) and 0 <= faces[0]['score'] <= 1
    assert align_faces(model, np.full((64, 64, 3), 127, np.uint8), detector='haar') == []
    with pytest.raises(CheckpointMismatchError) as e:
        load_aligner(setup['config'], setup['bad'])
    assert 'missing keys in source state_dict: head.fc.weight' in str(e.value)
    assert 'unexpected key in source state_dict: head.extra_layer.weight' in str(e.value)
    assert setup['bad'] in str(e.value) and e.value.exit_code == 5
    loose = load_aligner(setup['config'], setup['bad'], strict=False)           # mmengine logs the mismatch
    torch.testing.assert_close(loose.state_dict()['backbone.conv1.weight'],
                               model.state_dict()['backbone.conv1.weight'])


@pytest.mark.parametrize('name', ['haar', 'lbp', 'mtcnn'])
def test_detectors_find_the_astronaut(name):
    img = skimage_data.astronaut()[..., ::-1].copy()
    boxes = build_detector(name)(img)
    assert boxes.dtype == np.float32 and boxes.shape[1] == 4 and len(boxes) >= 1
    assert box_iou(boxes[0], ASTRONAUT_FACE)[0, 0] > 0.5                     # the largest box is the face
    areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    assert np.all(np.diff(areas) <= 0)
    assert len(build_detector(name)(np.full((200, 300, 3), 127, np.uint8))) == 0


def test_detect_faces_default_and_missing_package(monkeypatch):
    img = skimage_data.astronaut()[..., ::-1].copy()
    np.testing.assert_array_equal(detect_faces(img), build_detector(DEFAULT_DETECTOR)(img))
    with pytest.raises(KeyError, match='unknown face detector'):
        build_detector('retinaface')
    monkeypatch.setitem(sys.modules, 'facenet_pytorch', None)                # as if not installed
    with pytest.raises(DetectorUnavailable, match='pip install --no-deps facenet-pytorch==2.6.0'):
        MTCNNDetector()


def test_a_registered_detector_is_known_everywhere(repo_root, capsys):
    """Detectors live in an mmengine Registry: one registered by a user is built by name and accepted by the
    box convention; the comparison harness (a tool, not a library module) runs on the sample photos."""
    from mmfacealign.apis import FACE_DETECTORS, detector_names
    from mmfacealign.apis.box_convention import IDENTITY, calibration_for
    from mmfacealign.apis.face_detectors import FaceDetector

    @FACE_DETECTORS.register_module(name='whole_image_test')
    class WholeImage(FaceDetector):
        def detect(self, img_bgr):
            h, w = img_bgr.shape[:2]
            return [[0, 0, w, h]]
    try:
        assert 'whole_image_test' in detector_names()
        boxes = build_detector('whole_image_test')(np.zeros((40, 50, 3), np.uint8))
        np.testing.assert_array_equal(boxes, [[0, 0, 50, 40]])
        assert calibration_for('whole_image_test') is IDENTITY                 # no calibration: boxes as they are
        with pytest.raises(KeyError, match='unknown face detector'):
            build_detector('no_such_detector')
    finally:
        FACE_DETECTORS.module_dict.pop('whole_image_test')
    from e2e_utils import load_tool
    rows = load_tool('tools/analysis_tools/compare_face_detectors.py').main(
        ['--detectors', 'haar', '--repeats', '1'])
    assert rows[0]['detector'] == 'haar' and rows[0]['faces'] == 4 and '| haar |' in capsys.readouterr().out


def test_occlusion_output_reaches_faces_json_and_drawing(repo_root):
    """A model with an occlusion output (OcclusionPredictHead): align_faces gives each face keypoints_occluded
    probabilities, faces_to_json writes them, and draw_faces draws the landmarks above 0.5 differently (rings)."""
    from mmfacealign.apis import draw_faces, faces_to_json, init_model
    model = init_model(osp.join(repo_root, 'configs/baselines/td-reg-occ_res18-w32_1xb64-15e_synthface-128x128.py'),
                       None)
    with torch.no_grad():                    # landmarks 0-16 (the jaw) predicted occluded, the rest visible
        model.head.occ_weight.zero_()
        model.head.occ_bias.copy_(torch.where(torch.arange(68) < 17, 4.0, -4.0))
    img = skimage_data.astronaut()[..., ::-1].copy()
    faces = align_faces(model, img, bboxes=[[170, 50, 280, 190]])
    prob = faces[0]['keypoints_occluded']
    assert prob.shape == (68, ) and (prob[:17] > 0.9).all() and (prob[17:] < 0.1).all()
    record = faces_to_json(faces, image='astronaut.png', image_size=img.shape)
    assert len(record['faces'][0]['keypoints_occluded']) == 68
    json.dumps(record)
    as_visible = [dict(faces[0], keypoints_occluded=np.zeros(68))]
    assert (draw_faces(img, faces) != draw_faces(img, as_visible)).any()
