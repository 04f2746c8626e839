# Copyright (c) mmfacealign contributors. All rights reserved.
"""Start HOFS fine-tuning from the pre-trained SRN, and keep HOFS's state across checkpoints.

SRN Sec. 3.2 ("Q-net", "Reward"): the deep Q-net is initialised from the pre-trained SRN's CNN, and the reward
(Eq. 10) is the NME of the frozen pre-trained SRN. Both need the pre-trained weights, which the runner loads
(``load_from``) just before ``before_train``. So, before the first training iteration, this hook

* copies the loaded backbone and head into the estimator's frozen ``reward_model``
  (:meth:`~srn_video.models.SRNVideoEstimator.init_reward_model`), and
* initialises the synthesizer's Q-net from the loaded SRN head (``init_from_srn``),

once: the estimator's ``hofs_ready`` buffer records it, so a resumed run (whose checkpoint holds the frozen copy,
the Q-net and the flag) leaves them alone. The replay memory (the last K clips' transitions) is not a tensor of the
model: the hook writes it into every checkpoint (``checkpoint['hofs_replay']``) and restores it on resume.

Without ``load_from`` and without a HOFS checkpoint to resume there is no pre-trained SRN to start from: the hook
stops with an error naming the config key (also with ``--resume`` in a work dir that holds no checkpoint, where
mmengine silently starts from scratch). ``save_replay=False`` keeps the replay memory (60-130 MB at 300VW sizes)
out of the checkpoints; a run resumed from such a checkpoint starts with an empty replay.
"""
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmpose.registry import HOOKS


def _unwrap(model):
    return model.module if is_model_wrapper(model) else model


@HOOKS.register_module()
class HOFSInitHook(Hook):
    """Initialise HOFS's frozen reward model and Q-net from the loaded SRN; checkpoint the replay memory.

    Args:
        require_pretrained (bool): Stop when there is neither ``load_from`` nor a resumed HOFS checkpoint.
            Default True (HOFS is defined on a pre-trained SRN); False lets tests start from random weights.
        save_replay (bool): Write the replay memory into every checkpoint. Default True (an exact resume).
    """

    priority = 'LOW'                 # after MeanShapeHook (NORMAL): the frozen copy must have the mean shape

    def __init__(self, require_pretrained: bool = True, save_replay: bool = True):
        self.require_pretrained = require_pretrained
        self.save_replay = save_replay

    def before_train(self, runner) -> None:
        model = _unwrap(runner.model)
        synth = getattr(model, 'occlusion_synthesis', None)
        if not hasattr(model, 'hofs_ready') or synth is None or not hasattr(synth, 'init_from_srn'):
            return
        if bool(model.hofs_ready):
            runner.logger.info('HOFSInitHook: reward model and Q-net come from the checkpoint')
            return
        if self.require_pretrained and runner._load_from is None:
            # a resumed HOFS checkpoint sets hofs_ready (returned above); here nothing was loaded, --resume or not
            why = f' (--resume found no checkpoint in {runner.work_dir})' if runner._resume else ''
            raise ValueError('HOFSInitHook: HOFS fine-tunes a pre-trained SRN (its Q-net starts from the SRN patch '
                             f'CNN and its reward is the frozen SRN\'s NME), and no checkpoint was loaded{why}: set '
                             'load_from=<SRN checkpoint> in the config or --cfg-options load_from=...')
        model.init_reward_model()
        synth.init_from_srn(model.head)
        model.hofs_ready.fill_(True)
        runner.logger.info('HOFSInitHook: frozen reward model and Q-net initialised from the loaded SRN '
                           f'({runner._load_from})')

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        synth = getattr(_unwrap(runner.model), 'occlusion_synthesis', None)
        if self.save_replay and synth is not None and hasattr(synth, 'get_state'):
            checkpoint['hofs_replay'] = synth.get_state()

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        synth = getattr(_unwrap(runner.model), 'occlusion_synthesis', None)
        if synth is not None and hasattr(synth, 'set_state') and 'hofs_replay' in checkpoint:
            synth.set_state(checkpoint['hofs_replay'])
            runner.logger.info(f'HOFSInitHook: replay memory restored ({len(synth.replay)} transitions)')
