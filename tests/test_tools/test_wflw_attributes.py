# Copyright (c) mmfacealign contributors. All rights reserved.
"""tools/dataset_converters/wflw_attributes.py on a fake attribute file and a fake MMPose WFLW json."""
import json
import os.path as osp

import cv2
import numpy as np
import pytest
from e2e_utils import load_tool

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
wa = load_tool('tools/dataset_converters/wflw_attributes.py')

# (image, attribute flags pose expression illumination make-up occlusion blur)
FACES = [
    ('0--Parade/0_Parade_a_1.jpg', [1, 0, 0, 0, 1, 0]),
    ('0--Parade/0_Parade_a_1.jpg', [0, 0, 0, 0, 0, 1]),     # a second face in the same image
    ('12--Group/12_Group_b_2.jpg', [0, 1, 1, 1, 0, 0]),
]


def _landmarks(i):
    rng = np.random.default_rng(i)
    return rng.uniform(0, 50, (98, 2)) + [100 * i, 0]


def write_txt(path, faces=FACES):
    lines = []
    for i, (img, attrs) in enumerate(faces):
        pts = _landmarks(i)
        box = [int(pts[:, 0].min()) - 3, int(pts[:, 1].min()) - 3, int(pts[:, 0].max()) + 3,
               int(pts[:, 1].max()) + 3]
        lines.append(' '.join([f'{v:.6f}' for v in pts.reshape(-1)] + [str(v) for v in box + attrs] + [img]))
    path.write_text('\n'.join(lines) + '\n')
    return str(path)


def write_mmpose_json(path, order=(2, 0, 1), noise=0.01):
    """Annotations as MMPose's json holds them (v = 1, rounded coordinates), in a different order."""
    images, anns, ids = [], [], {}
    for j, i in enumerate(order):
        img = FACES[i][0]
        if img not in ids:
            ids[img] = len(images)
            images.append(dict(id=len(images), file_name=img, width=400, height=100))
        pts = _landmarks(i) + noise
        kpts = np.concatenate([pts, np.ones((98, 1))], 1)
        anns.append(dict(id=10 + j, image_id=ids[img], keypoints=kpts.reshape(-1).tolist(), num_keypoints=98,
                         center=pts.mean(0).tolist(), scale=0.3, iscrowd=0, category_id=1))
    path.write_text(json.dumps(dict(images=images, annotations=anns, categories=[dict(id=1, name='face')])))
    return str(path)


def test_tags_mmpose_json(tmp_path, capsys):
    out = tmp_path / 'out' / 'face_landmarks_wflw_test_attr.json'
    wa.main([write_txt(tmp_path / 'attr.txt'), '--json', write_mmpose_json(tmp_path / 'in.json'), '--out', str(out)])
    coco = json.loads(out.read_text())
    by_id = {a['id']: a['subset'] for a in coco['annotations']}
    assert by_id == {10: ['expression', 'illumination', 'makeup'], 11: ['pose', 'occlusion'], 12: ['blur']}
    assert 'pose 1' in capsys.readouterr().out
    assert not list((tmp_path / 'out').glob('*.tmp-*'))


def test_unmatched_faces_are_errors_naming_the_annotation(tmp_path):
    txt = write_txt(tmp_path / 'attr.txt', FACES[:2])                    # the Group image is missing
    js = write_mmpose_json(tmp_path / 'in.json')
    with pytest.raises(SystemExit, match=r"annotation id 10: image '12--Group/12_Group_b_2.jpg' is not in"):
        wa.main([txt, '--json', js, '--out', str(tmp_path / 'o.json')])
    assert not osp.exists(tmp_path / 'o.json')
    far = write_mmpose_json(tmp_path / 'far.json', noise=5.0)
    with pytest.raises(SystemExit, match=r'annotation id 1\d: nearest face .* px away'):
        wa.main([write_txt(tmp_path / 'all.txt'), '--json', far, '--out', str(tmp_path / 'o.json')])
    # allowed: the unmatched annotation stays untagged
    wa.main([txt, '--json', js, '--out', str(tmp_path / 'o.json'), '--allow-unmatched'])
    coco = json.loads((tmp_path / 'o.json').read_text())
    assert [('subset' in a) for a in coco['annotations']] == [False, True, True]


def test_fresh_json_follows_mmpose_conventions(tmp_path):
    for img in {f for f, _ in FACES}:
        p = tmp_path / 'WFLW_images' / img
        p.parent.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(p), np.zeros((90, 400, 3), np.uint8))
    out = tmp_path / 'fresh.json'
    wa.main([write_txt(tmp_path / 'attr.txt'), '--img-root', str(tmp_path / 'WFLW_images'), '--out', str(out)])
    coco = json.loads(out.read_text())
    assert len(coco['images']) == 2 and coco['images'][0]['height'] == 90
    a = coco['annotations'][0]
    pts = _landmarks(0)
    w, h = pts.max(0) - pts.min(0)
    assert a['center'] == pytest.approx(((pts.max(0) + pts.min(0)) / 2).tolist())
    assert a['scale'] == pytest.approx(max(w, h) / 200)
    assert a['subset'] == ['pose', 'occlusion'] and a['num_keypoints'] == 98
    # readable by the dataset class, which carries the tags
    from mmfacealign.datasets import FaceAlignWFLWDataset
    ds = FaceAlignWFLWDataset(ann_file=str(out), data_prefix=dict(img='x/'), test_mode=True, pipeline=[])
    assert [ds.get_data_info(i)['subset'] for i in range(3)] == [['pose', 'occlusion'], ['blur'],
                                                                  ['expression', 'illumination', 'makeup']]


def test_malformed_lines_name_the_line(tmp_path):
    ok = write_txt(tmp_path / 'ok.txt')
    bad = tmp_path / 'bad.txt'
    bad.write_text((tmp_path / 'ok.txt').read_text() + '1 2 3 x.jpg\n')
    with pytest.raises(ValueError, match=r'bad.txt:4: expected 207 fields'):
        wa.parse_attr_txt(str(bad))
    with pytest.raises(SystemExit, match='needs --img-root'):
        wa.main([ok, '--out', str(tmp_path / 'x.json')])


def test_attribute_names_match_the_dataset_module():
    from mmfacealign.datasets.benchmark_datasets import WFLW_ATTRIBUTES
    assert wa.WFLW_ATTRIBUTES == WFLW_ATTRIBUTES
