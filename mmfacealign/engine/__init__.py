# Copyright (c) mmfacealign contributors. All rights reserved.
