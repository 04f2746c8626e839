# Copyright (c) mmfacealign contributors. All rights reserved.
"""A stand-in for ``mmcv.ops`` under mmcv-lite, for tools/benchmarks/gpu_check.sh only (never installed with the
package).

mmcv-lite ships ``mmcv/ops/*.py`` but not the compiled ``mmcv._ext``, so ``import mmcv.ops`` fails, and
``import mmpose.models`` (EDPose: ``MultiScaleDeformableAttention``) and mmdet import names from it
unconditionally. gpu_check.sh copies this file over ``mmcv/ops/__init__.py`` of the wheel it installs. Every name
asked of ``mmcv.ops`` or of any ``mmcv.ops.<sub>`` module is then a placeholder class that can be imported and
subclassed but raises when it is built or called. mmfacealign's models use no compiled mmcv op (NonLocal2d and
ConvModule are mmcv.cnn, pure Python), so a run that reaches a placeholder is a real finding, not a shim artefact.
"""
import importlib.abc
import importlib.machinery
import sys
import types

__path__ = []          # a package with no files: its submodules come from _StubFinder below


def _placeholder(qualname: str):
    def _fail(*args, **kwargs):
        raise RuntimeError(f'{qualname} is a compiled mmcv op; this environment has mmcv-lite with a stub '
                           f'mmcv.ops (tools/benchmarks/gpu_shim), so it is unavailable')

    class _Placeholder:
        def __new__(cls, *args, **kwargs):
            _fail()

        def __init_subclass__(cls, **kwargs):
            pass

    _Placeholder.__name__ = _Placeholder.__qualname__ = qualname.rsplit('.', 1)[-1]
    _Placeholder.__module__ = qualname.rsplit('.', 1)[0]
    return _Placeholder


def _module_getattr(modname: str):
    def __getattr__(name: str):
        if name.startswith('__'):
            raise AttributeError(name)
        value = _placeholder(f'{modname}.{name}')
        setattr(sys.modules[modname], name, value)
        return value
    return __getattr__


class _StubFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    def find_spec(self, fullname, path=None, target=None):
        if fullname.startswith(__name__ + '.'):
            return importlib.machinery.ModuleSpec(fullname, self, is_package=True)
        return None

    def create_module(self, spec):
        mod = types.ModuleType(spec.name)
        mod.__path__ = []
        mod.__getattr__ = _module_getattr(spec.name)
        return mod

    def exec_module(self, module):
        pass


sys.meta_path.insert(0, _StubFinder())
__getattr__ = _module_getattr(__name__)


def get_compiler_version():
    return 'n/a (mmcv-lite, stub mmcv.ops)'


def get_compiling_cuda_version():
    return 'n/a (mmcv-lite, stub mmcv.ops)'
