# SRN video mode on SynthFace video, Table 9's "random synthesis (RSF)": as the no-occlusion config, with SRN's
# noise patch (48/224 of the crop side) around a uniformly random landmark on every frame of every clip.
_base_ = ['./srn-video_pcnn-s_no-occlusion_synthface-video-128x128.py']

model = dict(occlusion_synthesis=dict(_delete_=True, type='RandomOcclusionSynthesis'))
