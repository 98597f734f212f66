"""The paper's parameter-matched image models (section 5.2, Table 1).

The paper compares a NODE and an ANODE with about the same number of
parameters: on MNIST a NODE with 92 filters against an ANODE with 64 filters and
5 augmented channels; on CIFAR-10 and SVHN 125 filters against 64 filters and 10
channels.  Its counts (84,395 / 84,816 and 172,358 / 171,799) are those of the
convolutional field *without* time channels and a linear head on the flattened
final state; with the time channels that the paper's text describes, the same
models have a few hundred parameters more (MNIST: 85,316 / 85,462).  Both are
available: ``time_channels`` selects.
"""

from __future__ import annotations

from typing import Any

__all__ = ["IMAGE_SHAPES", "N_CLASSES", "PAPER_IMAGE_MODELS", "count_parameters",
           "matched_node_filters", "paper_image_model"]

IMAGE_SHAPES = {"mnist": (1, 28, 28), "cifar10": (3, 32, 32), "svhn": (3, 32, 32),
                "tinyimagenet": (3, 64, 64), "digits": (1, 8, 8)}
N_CLASSES = {"mnist": 10, "cifar10": 10, "svhn": 10, "tinyimagenet": 200, "digits": 10}
# (NODE filters, (ANODE filters, augmented channels)) from the paper, appendix F.1.2.
# Tiny ImageNet uses CIFAR's pair; the paper's counts for it (366,269 / 365,714) cannot come
# from this architecture, whose linear heads alone are 2.5M / 10.6M (see docs/images.rst).
PAPER_IMAGE_MODELS = {
    "mnist": (92, (64, 5)),
    "cifar10": (125, (64, 10)),
    "svhn": (125, (64, 10)),
    "tinyimagenet": (125, (64, 10)),
}


def count_parameters(image_shape: tuple[int, int, int], n_classes: int, *, num_filters: int,
                     augment_dim: int = 0, time_channels: bool = True) -> int:
    """Return the parameter count of the conv NODE / ANODE with a linear head.

    Parameters
    ----------
    image_shape : tuple (channels, height, width)
        Input images.
    n_classes : int
        Outputs of the linear head.
    num_filters : int
        Filters ``k`` of the convolutional block.
    augment_dim : int, default=0
        Augmented channels ``p``.
    time_channels : bool, default=True
        Whether each convolution sees the time as an extra input channel.

    Returns
    -------
    int
        Number of trainable parameters, as ``skanode.modules.ODENet`` builds it.
    """
    c, h, w = image_shape
    c, k, extra = c + augment_dim, num_filters, int(time_channels)
    field = ((extra + c) * k + k) + ((extra + k) * k * 9 + k) + ((extra + k) * c + c)
    return field + c * h * w * n_classes + n_classes


def matched_node_filters(image_shape: tuple[int, int, int], n_classes: int, *,
                         anode_filters: int = 64, augment_dim: int = 5,
                         time_channels: bool = True) -> int:
    """Return the NODE filter count whose model size is closest to the ANODE's.

    On MNIST with the paper's ANODE (64 filters, 5 channels) this gives the
    paper's 92.

    Parameters
    ----------
    image_shape : tuple (channels, height, width)
        Input images.
    n_classes : int
        Number of classes.
    anode_filters : int, default=64
        Filters of the ANODE.
    augment_dim : int, default=5
        Augmented channels of the ANODE.
    time_channels : bool, default=True
        Whether the convolutions see the time channel.

    Returns
    -------
    int
        Filters for the NODE.
    """
    target = count_parameters(image_shape, n_classes, num_filters=anode_filters,
                              augment_dim=augment_dim, time_channels=time_channels)

    def size(k: int) -> int:
        return count_parameters(image_shape, n_classes, num_filters=k,
                                time_channels=time_channels)

    # The size grows with k: find the first k at or above the target, then the closer one.
    low, high = 1, 2
    while size(high) < target:
        low, high = high, 2 * high
    while high - low > 1:
        mid = (low + high) // 2
        low, high = (mid, high) if size(mid) < target else (low, mid)
    return min((low, high), key=lambda k: (abs(size(k) - target), k))


def paper_image_model(dataset: str, model: str, *, time_channels: bool = True,
                      image_shape: tuple[int, int, int] | None = None) -> dict[str, Any]:
    """Return estimator parameters of the paper's NODE or ANODE for ``dataset``.

    Parameters
    ----------
    dataset : {"mnist", "cifar10", "svhn", "tinyimagenet", "digits"}
        For ``"digits"`` (scikit-learn's 8x8 digits, the embedded default) the
        ANODE is the MNIST one and the NODE's filters are matched to its size by
        :func:`matched_node_filters`; ``"tinyimagenet"`` takes CIFAR's pair, as
        the paper does (whose parameter counts for it this architecture cannot
        give).
    model : {"node", "anode"}
        Which of the pair.
    time_channels : bool, default=True
        The paper's text (time as an input channel of each convolution), or
        ``False`` for the architecture its parameter counts correspond to.
    image_shape : tuple, default=None
        Override the dataset's image shape (e.g. for a crop).

    Returns
    -------
    dict
        ``architecture``, ``num_filters``, ``augment_dim`` (ANODE) and
        ``time_dependent``, ready for ``NODEClassifier(**params)`` /
        ``ANODEClassifier(**params)``.

    Examples
    --------
    >>> paper_image_model("mnist", "anode")
    {'architecture': 'conv', 'num_filters': 64, 'time_dependent': True, 'augment_dim': 5}
    """
    if dataset not in IMAGE_SHAPES:
        raise ValueError(f"Unknown dataset {dataset!r}; choose one of {sorted(IMAGE_SHAPES)}.")
    if model not in ("node", "anode"):
        raise ValueError(f"model must be 'node' or 'anode', got {model!r}.")
    fallback = "cifar10" if IMAGE_SHAPES[dataset][0] == 3 else "mnist"
    node_filters, (anode_filters, channels) = PAPER_IMAGE_MODELS.get(dataset,
                                                                     PAPER_IMAGE_MODELS[fallback])
    shape = image_shape or IMAGE_SHAPES[dataset]
    if dataset not in PAPER_IMAGE_MODELS or image_shape is not None:
        node_filters = matched_node_filters(shape, N_CLASSES[dataset],
                                            anode_filters=anode_filters, augment_dim=channels,
                                            time_channels=time_channels)
    if model == "node":
        return {"architecture": "conv", "num_filters": node_filters,
                "time_dependent": time_channels}
    return {"architecture": "conv", "num_filters": anode_filters,
            "time_dependent": time_channels, "augment_dim": channels}
