# Copyright (c) mmfacealign contributors. All rights reserved.
"""Install mmfacealign.

Use ``bash tools/setup_env.sh`` (what the README's commands call) for a complete environment: MMPose and mmcv
need install flags that plain ``pip install .`` cannot express (see requirements/mminstall.txt).
"""
import os
import os.path as osp
import platform
import shutil
import sys
import warnings

from setuptools import find_packages, setup

HERE = osp.dirname(osp.abspath(__file__))


def readme() -> str:
    with open(osp.join(HERE, 'README.md'), encoding='utf-8') as f:
        return f.read()


def get_version() -> str:
    scope: dict = {}
    with open(osp.join(HERE, 'mmfacealign', 'version.py'), encoding='utf-8') as f:
        exec(compile(f.read(), 'version.py', 'exec'), scope)
    return scope['__version__']


def parse_requirements(fname: str) -> list:
    """Requirement lines of ``requirements/<fname>``, comments and blanks dropped."""
    reqs = []
    with open(osp.join(HERE, 'requirements', fname), encoding='utf-8') as f:
        for line in f:
            line = line.split('#', 1)[0].strip()
            if line and not line.startswith('-'):
                reqs.append(line)
    return reqs


def add_mim_extension():
    """Put tools/, configs/, demo/, checkpoints/ and model-index.yml under ``mmfacealign/.mim``.

    As MMPose's setup.py does: ``mim train mmfacealign CONFIG`` runs ``mmfacealign/.mim/tools/train.py`` and
    finds configs in ``mmfacealign/.mim/configs``. Editable installs get symlinks, wheels and sdists copies.
    """
    if 'develop' in sys.argv or any(a.startswith('editable') for a in sys.argv):
        mode = 'symlink'
    elif 'sdist' in sys.argv or 'bdist_wheel' in sys.argv or 'install' in sys.argv:
        mode = 'copy'
    else:
        return
    filenames = ['tools', 'configs', 'demo', 'checkpoints', 'model-index.yml']
    mim_path = osp.join(HERE, 'mmfacealign', '.mim')
    os.makedirs(mim_path, exist_ok=True)
    for filename in filenames:
        src = osp.join(HERE, filename)
        if not osp.exists(src) and mode == 'copy':
            continue
        dst = osp.join(mim_path, filename)
        if osp.isfile(dst) or osp.islink(dst):
            os.remove(dst)
        elif osp.isdir(dst):
            shutil.rmtree(dst)
        if mode == 'symlink' and platform.system() != 'Windows':
            os.symlink(osp.relpath(src, osp.dirname(dst)), dst)
        else:
            if mode == 'symlink':
                warnings.warn('symlinks are unavailable on Windows; copying the mim files instead')
            if osp.isfile(src):
                shutil.copyfile(src, dst)
            else:
                shutil.copytree(src, dst)


if __name__ == '__main__':
    add_mim_extension()
    setup(
        name='mmfacealign',
        version=get_version(),
        description='Occlusion-robust face alignment (SCDF, FFLD, ODN, SRN) for MMPose',
        long_description=readme(),
        long_description_content_type='text/markdown',
        keywords='face alignment, facial landmarks, occlusion, mmpose, openmmlab',
        packages=find_packages(exclude=('configs', 'tools', 'demo', 'tests', 'projects')),
        include_package_data=True,
        package_data={'mmfacealign': ['.mim/**/*', 'datasets/metainfo/*.py', 'models/utils/graphs/*']},
        python_requires='>=3.8',
        classifiers=[
            'Programming Language :: Python :: 3',
            'Topic :: Scientific/Engineering :: Artificial Intelligence',
        ],
        license='Apache License 2.0',
        install_requires=parse_requirements('runtime.txt'),
        extras_require={
            'all': parse_requirements('runtime.txt') + parse_requirements('tests.txt')
            + parse_requirements('optional.txt'),
            'tests': parse_requirements('tests.txt'),
            'optional': parse_requirements('optional.txt'),
            'mim': parse_requirements('mminstall.txt'),
        },
        zip_safe=False)
