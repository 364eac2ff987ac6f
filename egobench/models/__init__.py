"""Stable Diffusion components: loading, the random-weight miniatures, partial UNet forwards."""
