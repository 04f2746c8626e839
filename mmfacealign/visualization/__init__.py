# Copyright (c) mmfacealign contributors. All rights reserved.
from .face_drawing import contour_links, draw_face_landmarks, face_diagonal, marker_sizes
from .face_visualizer import FaceAlignmentVisualizer, tile_images

__all__ = ['FaceAlignmentVisualizer', 'tile_images', 'draw_face_landmarks', 'contour_links', 'marker_sizes',
           'face_diagonal']
