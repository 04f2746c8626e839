# SRN video mode on 300VW, Table 9's "random synthesis (RSF)": as the no-occlusion config, with SRN's 48x48 noise
# patch around a uniformly random landmark on every frame of every clip.
_base_ = ['./srn-video_pcnn_no-occlusion_300vw-224x224.py']

model = dict(occlusion_synthesis=dict(_delete_=True, type='RandomOcclusionSynthesis'))
