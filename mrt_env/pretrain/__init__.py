"""``mrt-pretrain``: how the shipped tiny model is trained (``train``) and evaluated for its
model card (``evaluate``). The model itself is data, in ``mrt_env/assets/``."""
