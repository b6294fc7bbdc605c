// The API's shapes the page reads: the daemon's own types (type-only: nothing of the daemon is bundled).
export type {
  CoordinatorView,
  ErrorBody,
  ImageView,
  InstanceView,
  JobState,
  JobView,
  LayerView,
  Liveness,
  NodeStateEvent,
  NodeView,
  RecordEvent,
  ServiceEvent,
  ServiceView,
  SlotVars,
  StatsSample,
  StatsView,
  StatusView,
} from '../../src/api/types.js'
export type { NodeValue } from '../../src/membership/index.js'
