# SRN video mode on SynthFace video, Table 9's "HOFS": as the no-occlusion config, with the hard occluded face
# synthesis of Sec. 3.2: on every frame a deep Q-net (initialised from the pre-trained SRN's patch CNN) picks the
# noise-patch occlusion around landmark l-1, l or l+1 (l: the previous frame's choice) that it expects to be hardest
# for the frozen pre-trained SRN (reward: that model's NME on the synthesised frame, Eq. 10), epsilon-greedy;
# transitions go to a replay memory of the last K clips; loss_q is the squared Bellman error (Eq. 11-12), trained by
# the same optimizer; SRN is fine-tuned on the synthesised clips.
#
# Deviations / choices the paper leaves open (each a config value, documented in projects/srn_video/README.md):
#   - Q-only warm-up: the first q_only_iters iterations train the Q-net alone (SRN not updated), then both;
#   - Q-only warm-up of 10 of the 48 iterations; epsilon 1 -> 0.1 linearly over the first 30 (the synthesizer's
#     default, over 1000 updates, suits longer runs: e.g. the 300VW config);
#   - gamma 0.9, K = 8 clips of replay, replay minibatch 32, the Q-net head: HOFSSynthesizer's defaults.
_base_ = ['./srn-video_pcnn-s_no-occlusion_synthface-video-128x128.py']

model = dict(
    q_only_iters=10,
    occlusion_synthesis=dict(
        _delete_=True,
        type='HOFSSynthesizer',
        epsilon=dict(start=1.0, end=0.1, steps=30, mode='linear'),
        q_net=dict(type='HOFSQNet', patch_size=24,
                   patch_cnn=dict(type='PatchCNN', channels=(16, 32, 32), kernel_sizes=(5, 3, 3)))))

# DDP: during the Q-only warm-up (q_only_iters) SRN's parameters get no gradient, which stops DDP's default
# (find_unused_parameters=False) at the first iteration; the set of used parameters changes after the warm-up, so
# they cannot simply be frozen.
model_wrapper_cfg = dict(type='MMDistributedDataParallel', find_unused_parameters=True)
