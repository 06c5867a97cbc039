"""The paper-critical inputs of notebook 20 (Sec. III-A/B: ResNet-10 trained on ImageNet, then on CK+,
Oulu-CASIA, JAFFE and MUG), checked before training by :func:`mer_utils.substitutes.check_paper_inputs`
(issue 20: loud, not silent)."""
from __future__ import annotations

from pathlib import Path

from ...substitutes import DataSources, PaperInput, check_paper_inputs, existing_file, micro_clips

NOTEBOOK = "20_peng2018_macro_to_micro"
#: The macro sets of the CPU profiles (the documented design: synthetic FER2013 and CK+ layouts).
QUICK_MACRO_SETS = ("fer2013", "ckplus")
PAPER_FOLDER_SETS = "Oulu-CASIA NIR&VIS, JAFFE and MUG"


def default_macro_sets(profile: str, macro_folder=None) -> list:
    """``MACRO_SETS=None``: ``full`` takes CK+ (plus ``MACRO_FOLDER``, the other three sets of Sec. III-B);
    without the folder FER2013 stands in for them (a substitute, accepted only with ``ALLOW_SUBSTITUTES``).
    ``quick`` / ``ci``: FER2013 + CK+ (the synthetic layouts)."""
    if profile != "full":
        return list(QUICK_MACRO_SETS)
    return ["ckplus"] if macro_folder is not None else ["ckplus", "fer2013"]


def _licensed(name: str, data_root) -> str | None:
    from ...data.discovery import licensed_status

    folder, missing = licensed_status(name, data_root)
    return None if missing else str(folder)


def paper_inputs(profile: str, data_root=None, imagenet_weights=None, macro_sets=None, macro_folder=None, *,
                 allow_substitutes: bool = False, synthetic_size: str = "paper") -> DataSources:
    """Each stage's input (ImageNet weights, CK+, the folder of the other macro sets, the micro clips); in
    ``full`` a missing one raises :class:`~mer_utils.substitutes.MissingPaperInputError` unless
    ``allow_substitutes``. ``.settings["macro_sets"]`` is the list of sets to load (``macro_sets`` when given,
    else :func:`default_macro_sets`)."""
    sets = list(default_macro_sets(profile, macro_folder) if macro_sets is None else
                ([macro_sets] if isinstance(macro_sets, str) else macro_sets))
    weights = existing_file(imagenet_weights)
    inputs = [PaperInput("stage 1: ImageNet initialisation", "ResNet-10 trained on ImageNet (cvgj, Caffe)",
                         f"ImageNet weights {weights}" if weights else "random initialisation", weights is None,
                         "IMAGENET_WEIGHTS = the cvgj ResNet-10 weights as a .pt/.pth state dict or converted "
                         ".npy (e.g. data/weights/imagenet/resnet10_cvgj.pth)")]
    ck = _licensed("ckplus", data_root) if "ckplus" in sets else None
    ck_used = (f"licensed CK+ at {ck}" if ck else "synthetic CK+ layout") if "ckplus" in sets else "not used"
    inputs.append(PaperInput("stage 2: macro set CK+", "CK+ (licensed)", ck_used, ck is None,
                             "DATA_ROOT/CK+/ (cohn-kanade-images/ and Emotion/)"))
    if macro_folder is not None and not Path(macro_folder).expanduser().is_dir():
        raise FileNotFoundError(f"MACRO_FOLDER={str(macro_folder)!r} is not a folder; expected emotion sub-folders "
                                f"(angry/, happy/, ...) holding {PAPER_FOLDER_SETS} images, or None.")
    parts = [f"folder {macro_folder}"] if macro_folder is not None else []
    if "fer2013" in sets:
        fer = _licensed("fer2013", data_root)
        parts.append(f"FER2013 ({'licensed at ' + fer if fer else 'synthetic layout'})")
    inputs.append(PaperInput(f"stage 2: macro sets {PAPER_FOLDER_SETS}", PAPER_FOLDER_SETS + " (licensed)",
                             " + ".join(parts) or "not used (CK+ only)",
                             macro_folder is None or "fer2013" in sets,
                             "MACRO_FOLDER = a folder of emotion sub-folders (angry/, happy/, ...) with their images"))
    micro = all(_licensed(n, data_root) for n in ("casme2", "samm"))
    inputs.append(micro_clips("licensed" if micro else f"synthetic ({synthetic_size})", "licensed CASME II and SAMM"))
    out = check_paper_inputs(NOTEBOOK, profile, inputs, allow_substitutes)
    out.settings["macro_sets"] = sets
    return out
