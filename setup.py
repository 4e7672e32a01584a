"""Build hook: the wheel carries the shipped scenarios and calibration fits.

They live outside the package in the source tree (``scenarios/``,
``calibration/fits/``); the build copies them into the package data folder
``model/data/`` with the same layout, so that relative ``extends`` paths hold
in both places (``model.scenario.data_root``). Everything else is in
``pyproject.toml``.
"""

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

SHIPPED = {"scenarios": ["*.toml", "README.md"], "calibration/fits": ["*.toml"]}


class BuildWithData(build_py):
    def run(self):
        super().run()
        if getattr(self, "editable_mode", False):
            return   # an editable install reads the source tree itself
        root = Path(__file__).resolve().parent
        for folder, patterns in SHIPPED.items():
            target = Path(self.build_lib) / "model" / "data" / folder
            target.mkdir(parents=True, exist_ok=True)
            for pattern in patterns:
                for path in sorted((root / folder).glob(pattern)):
                    shutil.copyfile(path, target / path.name)


setup(cmdclass={"build_py": BuildWithData})
