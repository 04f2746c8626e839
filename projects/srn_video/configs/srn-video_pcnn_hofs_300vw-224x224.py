# SRN video mode on 300VW, Table 9's "HOFS" (Sec. 3.2, Eq. 10-12): as the no-occlusion config, with hard occluded
# face synthesis by deep Q-learning: the Q-net (initialised from the pre-trained SRN's patch CNN) picks the noise
# patch around landmark l-1, l or l+1 that it expects to be hardest for the frozen pre-trained SRN (reward: its NME
# on the synthesised frame), epsilon-greedy, with a replay memory of the last K clips; SRN is fine-tuned on the
# synthesised clips. Choices the paper leaves open (HOFSSynthesizer's documented defaults unless set here): a
# 1000-iteration Q-only warm-up, epsilon 1 -> 0.1 over 1000 updates, gamma 0.9, K = 8 clips, replay minibatch 32.
_base_ = ['./srn-video_pcnn_no-occlusion_300vw-224x224.py']

model = dict(
    q_only_iters=1000,
    occlusion_synthesis=dict(
        _delete_=True,
        type='HOFSSynthesizer',
        q_net=dict(type='HOFSQNet', patch_size=36,
                   patch_cnn=dict(type='PatchCNN', channels=(32, 64, 64), kernel_sizes=(7, 3, 3), init_std=0.01))))

# DDP: during the Q-only warm-up (q_only_iters) SRN's parameters get no gradient, which stops DDP's default
# (find_unused_parameters=False) at the first iteration; the set of used parameters changes after the warm-up, so
# they cannot simply be frozen.
model_wrapper_cfg = dict(type='MMDistributedDataParallel', find_unused_parameters=True)
