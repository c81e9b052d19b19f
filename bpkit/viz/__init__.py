"""Plotly figures and ipywidgets dashboards for the lessons."""
from .chain_rule import ChainRuleExplorer
from .graph import GraphExplorer, draw_graph, graph_layout
from .bptt import bptt_figure
from .decision_boundary import DecisionBoundary
from .gd_explorer import GradientDescentExplorer
from .optimizer_race import OptimizerRace
from .training_dashboard import TrainingDashboard
from .directions import filter_normalized_direction, parameter_vector, pca_directions, project_path
from .landscape import NetworkLandscape, landscape_figure, loss_landscape_2d, network_landscape
from .loss_grid import loss_grid, loss_on_plane
