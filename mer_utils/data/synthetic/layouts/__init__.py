"""Writers: synthetic clips laid out exactly as the licensed datasets are shipped (REFERENCE.md §1), one module per
layout (:mod:`~.casme2`, :mod:`~.samm`, :mod:`~.smic`, :mod:`~.casme`, :mod:`~.casme_sq`, :mod:`~.megc`,
:mod:`~.fer2013`, :mod:`~.ckplus`) on top of :mod:`~.common` (the run context, file writing, ground truth).

Each ``write_<layout>`` function plans the clips of one layout (:mod:`mer_utils.data.synthetic.plan`), renders
them (:mod:`mer_utils.data.synthetic.render`) and writes frames and annotation files under the layout's folder
of :data:`mer_utils.paths.DATASET_FOLDERS`, with the real file names, sheets, preambles, column names and
quirks:

======================  ==========================================================================================
``CASME2/``             ``CASME2_RAW_selected/subXX/EPxx_yy[f]/imgN.jpg`` (N = frame number, onset..offset),
                        ``Cropped/subXX/EPxx_yy/reg_imgN.jpg``, ``CASME2-coding-20140508.xlsx`` (subject as text,
                        mixed int / string AU cells, apex ``/`` for sub04/EP12_01f, apex = onset for
                        sub05/EP09_05f, a missing frame, clip folders without a coding row),
                        ``CASME2-ObjectiveClasses.xlsx`` (subject as int)
``SAMM/``               ``006/006_1_2/006_05562.jpg`` (grey, absolute frame numbers, zero-padding 4 or 5),
                        ``SAMM_Micro_FACS_Codes_v2.xlsx`` (sheet ``MICRO_ONLY``, 13 preamble rows, one apex
                        outside onset..offset; two at paper size, as in the real file)
``SMIC/``               ``SMIC_all_raw/{HS,VIS,NIR}/s1/micro/{negative,positive,surprise}/s1_ne_01/imageN.bmp``
                        (unpadded subject folders, label from the folder), ``SMIC_HS_E/s01/s1_ne_01/imageN.jpg``
                        and ``SMIC-HS-E_annotation.xlsx`` (sheets ``HS``, ``VIS``)
``CASME/``              ``CASME_raw_selected/subXX/EP01_5/EP01_5-19.jpg``, ``CASME_coding.xlsx`` (``comtempt``)
``CASME_sq/``           ``rawpic/s15/15_0101disgustingteeth/imgN.jpg`` (long videos, several expressions),
                        ``CAS(ME)^2code_final.xlsx`` (header-less sheet 0, naming sheets 1 and 2, offset 0);
                        at paper size 206 expressions (57 micro, 149 macro) in 87 videos, see
                        :mod:`~mer_utils.data.synthetic.plan`
``MEGC2019/``           ``combined_3_class_gt.csv`` (``data,subject,clip,label``)
``FER2013/``            ``fer2013.csv`` (``emotion,pixels,Usage``, 48x48 grey)
``CK+/``                ``cohn-kanade-images/S005/001/S005_001_00000001.png``,
                        ``Emotion/S005/001/S005_001_000000NN_emotion.txt``
======================  ==========================================================================================

Ground truth goes to ``<layout folder>/_synthetic_gt/`` (an ``index.csv`` plus one JSON per clip), outside the
providers' layout, so a loader reading the real structure never sees it.
"""
from .casme import plan_casme, write_casme
from .casme2 import plan_casme2, write_casme2
from .casme_sq import plan_casme_sq, write_casme_sq
from .ckplus import write_ckplus
from .common import ALL_TOKENS, GENERATOR_VERSION, GT_FOLDER, Context
from .fer2013 import write_fer2013
from .megc import write_megc2019
from .samm import plan_samm, write_samm
from .smic import plan_smic, write_smic

#: Layout name -> its writer.
WRITERS = {"casme2": write_casme2, "samm": write_samm, "smic": write_smic, "casme": write_casme,
           "casme_sq": write_casme_sq, "megc2019": write_megc2019, "fer2013": write_fer2013, "ckplus": write_ckplus}

__all__ = ["ALL_TOKENS", "GENERATOR_VERSION", "GT_FOLDER", "Context", "WRITERS", "plan_casme", "plan_casme2",
           "plan_casme_sq", "plan_samm", "plan_smic", "write_casme", "write_casme2", "write_casme_sq", "write_ckplus",
           "write_fer2013", "write_megc2019", "write_samm", "write_smic"]
