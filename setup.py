from glob import glob
import os

from setuptools import find_packages, setup

package_name = 'llm_planner'

setup(
    name=package_name,
    version='0.1.0',
    packages=find_packages(exclude=['test', 'test.*']),
    data_files=[
        ('share/ament_index/resource_index/packages', ['resource/' + package_name]),
        ('share/' + package_name, ['package.xml']),
        (os.path.join('share', package_name, 'launch'), glob('launch/*.launch.py')),
        (os.path.join('share', package_name, 'config'), glob('config/*.yaml')),
    ],
    install_requires=['setuptools', 'PyYAML'],
    zip_safe=True,
    maintainer='llm_planner developers',
    maintainer_email='dev@llm-planner.invalid',
    description='Natural-language task planner for robots on a local LLM.',
    license='Apache-2.0',
    tests_require=['pytest'],
    entry_points={
        'console_scripts': [
            'llm-planner = llm_planner.cli:main',
            'planner_node = llm_planner.ros.planner_node:main',
            'sim_robot = llm_planner.sim.sim_robot:main',
        ],
    },
)
