// The audience export jobs Function App and what it needs, reached without keys:
// a Flex Consumption plan (FC1), the app (.NET 10 isolated), one storage account for the Functions host, the Durable
// Task Azure Storage backend (queues, tables, blobs) and the service's own data (tables, blobs), a user-assigned
// managed identity with data roles on that account, and Application Insights on a Log Analytics workspace.
//
// Why Flex Consumption and not Elastic Premium: Flex deploys the app package from a blob container through the
// managed identity, so the storage account can refuse shared keys entirely (Premium on Linux needs an Azure Files
// content share, which needs a key); it scales out per function to many instances, which is what spreads the shard
// activities of an export; and always-ready instances can be added where cold starts matter.

targetScope = 'resourceGroup'

@description('Azure region of every resource.')
param location string = resourceGroup().location

@description('Short name used in every resource name (lowercase letters and digits).')
@minLength(3)
@maxLength(11)
param name string = 'exportjobs'

@description('Most instances the app scales out to (Flex Consumption).')
@minValue(40)
@maxValue(1000)
param maximumInstanceCount int = 100

@description('Memory of each instance, MB (Flex Consumption: 2048 or 4096).')
@allowed([2048, 4096])
param instanceMemoryMB int = 2048

@description('The iss every bearer token must carry (ExportJobs:Access:Issuer).')
param accessIssuer string

@description('The aud every bearer token must carry (ExportJobs:Access:Audience).')
param accessAudience string

@description('The issuer\'s OpenID Connect metadata address; its signing keys are trusted (ExportJobs:Access:MetadataAddress).')
param accessMetadataAddress string

@description('Client ids an x-api-key may name (ExportJobs:Access:AllowedClientIds).')
@minLength(1)
param accessAllowedClientIds array

@description('The token claim listing the organisations it grants (ExportJobs:Access:OrgClaim).')
param accessOrgClaim string = 'orgs'

@description('Sandboxes of organisations not listed in accessSandboxes (ExportJobs:Access:DefaultSandboxes).')
param accessDefaultSandboxes array = ['prod']

@description('Sandboxes of named organisations: {"orgId": ["prod", "dev"]} (ExportJobs:Access:Sandboxes).')
param accessSandboxes object = {}

@description('Clock difference tolerated when checking a token\'s lifetime, seconds.')
param accessClockSkewSeconds int = 60

@description('Shards of the profile store; fixed for the life of the data.')
@minValue(1)
@maxValue(4096)
param shardCount int = 16

@description('Shard activities of one job that run at once.')
param maxParallelShards int = 8

@description('Shards whose fragment files come to at most this many bytes together are exported by one activity; 0: one activity per shard.')
@minValue(0)
param shardGroupBytes int = 16777216

@description('Shards one instance reads at once (exports and compactions): what bounds its memory.')
@minValue(1)
@maxValue(256)
param maxShardReadsPerHost int = 4

@description('How many of those reads may be a pdg export\'s route or partition export, or an identity graph build\'s rules: they hold more than other reads.')
@minValue(1)
@maxValue(256)
param maxStitchedReadsPerHost int = 2

@description('Minutes an identity graph build (and the routes kept with it) stays once a newer build of its tenant completed.')
@minValue(0)
@maxValue(10080)
param supersededBuildMinutes int = 60

@description('A pdg export\'s identity graph build has a partition of components (its rules stage) per this many bytes of fragment files (1 to 32 partitions).')
@minValue(1)
param graphPartitionBytes int = 12582912

@description('The build\'s links, rounds and grouping have a partition of identities per this many bytes of fragment files (1 to 32 partitions).')
@minValue(1)
param graphRoundPartitionBytes int = 12582912

@description('Tries of a shard activity before the job fails.')
param shardAttempts int = 3

@description('Most rows in one Parquet part of an export.')
param partRows int = 100000

@description('Most bytes the rows a shard\'s export is gathering hold in memory, over the parts of all its batches: past it the largest part is written (and any part at partRows rows).')
param partBytes int = 4194304

@description('Most runs of fragment files a shard is read from; the shard activity merges the smallest runs of a shard that has more, background compaction brings it down to a quarter of this.')
param maxShardFiles int = 16

@description('Most bytes of fragment files an instance keeps copies of in its temporary folder, read instead of fetching them again (and up to as much again in passing copies of files being read); 0: none. 256 MiB here, where the code defaults to 1 GiB: a Flex Consumption instance\'s temporary folder is small and may be held in its memory. Raise it on a plan with a local disk.')
param localCacheBytes int = 268435456

@description('Whether ingestion and compaction shred members whose values are objects into typed leaf columns. Off, as in the code: until exports merge from the leaves, writing values back from them costs more than reading only the leaves a job\'s fields touch saves, except for wide objects of which exports take a few leaves.')
param typedLeaves bool = false

@description('Most seconds an instance starting spends warming ingestion\'s code up on generated records in memory. 0, off: a Function App\'s worker takes invocations while its start-up services run, so a warm-up would compete with the first requests rather than precede them (the LocalHost sets 10).')
@minValue(0)
@maxValue(300)
param warmUpSeconds int = 0

@description('Background compaction compacts a tenant\'s shards once no file was written to them for this many seconds.')
param compactionQuietSeconds int = 10

@description('Most work segment evaluation may do for one job (quantified elements visited and characters matched).')
param evaluationBudget int = 10000000000

@description('Largest JSON body, bytes.')
param maxJsonBodyBytes int = 1048576

@description('Largest ingestion body, bytes (the Functions host allows at most 100 MB).')
param maxIngestBodyBytes int = 104857600

@description('Longest NDJSON line of an ingestion body, bytes; a longer line is rejected.')
param maxRecordBytes int = 1048576

@description('Bytes of accepted lines an ingestion holds before it writes them as one chunk.')
param ingestChunkBytes int = 16777216

@description('Shortest time between two runs of a schedule, seconds.')
param scheduleMinimumIntervalSeconds int = 60

@description('How long an Idempotency-Key answers with its first job or batch, seconds.')
param idempotencyWindowSeconds int = 86400

@description('How long a repeated request waits for the first one with its key, seconds.')
param idempotencyWaitSeconds int = 20

@description('A NEW job without change this long is re-driven, seconds.')
param watchdogStuckNewAfterSeconds int = 300

@description('A PROCESSING job without progress this long is failed, seconds.')
param watchdogStalledAfterSeconds int = 1800

@description('An ended orchestration created this long ago is purged from the task hub, seconds (more than watchdogStuckNewAfterSeconds).')
param watchdogPurgeEndedAfterSeconds int = 604800

@description('Deliveries tried per completion callback.')
param callbackMaxAttempts int = 5

@description('Timeout of one callback delivery, seconds.')
param callbackTimeoutSeconds int = 10

@description('Ports a callback URL may name.')
param callbackPorts array = [443]

var token = uniqueString(resourceGroup().id, name)
var storageName = take('st${name}${token}', 24)
var deploymentContainer = 'app-package'
var roles = {
  storageBlobDataOwner: 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b'
  storageQueueDataContributor: '974c5e8b-45b9-4653-ba55-5f855dd0fb88'
  storageTableDataContributor: '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3'
  storageAccountContributor: '17d1049b-9a84-46fb-8f53-869881c3d3ab'
  monitoringMetricsPublisher: '3913510d-42f4-4e42-8a64-420c390055eb'
}

resource workspace 'Microsoft.OperationalInsights/workspaces@2023-09-01' = {
  name: 'log-${name}-${token}'
  location: location
  properties: {
    sku: { name: 'PerGB2018' }
    retentionInDays: 30
  }
}

resource insights 'Microsoft.Insights/components@2020-02-02' = {
  name: 'appi-${name}-${token}'
  location: location
  kind: 'web'
  properties: {
    Application_Type: 'web'
    WorkspaceResourceId: workspace.id
    DisableLocalAuth: true
  }
}

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' = {
  name: storageName
  location: location
  kind: 'StorageV2'
  sku: { name: 'Standard_LRS' }
  properties: {
    allowSharedKeyAccess: false
    allowBlobPublicAccess: false
    defaultToOAuthAuthentication: true
    minimumTlsVersion: 'TLS1_2'
    supportsHttpsTrafficOnly: true
  }
}

resource blobService 'Microsoft.Storage/storageAccounts/blobServices@2023-05-01' = {
  parent: storage
  name: 'default'
}

resource packageContainer 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = {
  parent: blobService
  name: deploymentContainer
}

resource identity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: 'id-${name}-${token}'
  location: location
}

resource storageRoles 'Microsoft.Authorization/roleAssignments@2022-04-01' = [for role in [roles.storageBlobDataOwner, roles.storageQueueDataContributor, roles.storageTableDataContributor, roles.storageAccountContributor]: {
  name: guid(storage.id, identity.id, role)
  scope: storage
  properties: {
    principalId: identity.properties.principalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', role)
  }
}]

resource insightsRole 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(insights.id, identity.id, roles.monitoringMetricsPublisher)
  scope: insights
  properties: {
    principalId: identity.properties.principalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.monitoringMetricsPublisher)
  }
}

resource plan 'Microsoft.Web/serverfarms@2024-04-01' = {
  name: 'plan-${name}-${token}'
  location: location
  kind: 'functionapp'
  sku: {
    tier: 'FlexConsumption'
    name: 'FC1'
  }
  properties: {
    reserved: true
  }
}

// Every option of local.settings.sample.json. FUNCTIONS_WORKER_RUNTIME is functionAppConfig.runtime on Flex
// Consumption; AzureWebJobsStorage and ExportJobs__StorageConnection are identity-based here (…__accountName,
// ExportJobs__StorageAccountName); the LocalHost-only settings (DurableTask__*, LocalHost__*) have no place in Azure.
var baseSettings = {
  AzureWebJobsStorage__accountName: storage.name
  AzureWebJobsStorage__credential: 'managedidentity'
  AzureWebJobsStorage__clientId: identity.properties.clientId
  APPLICATIONINSIGHTS_CONNECTION_STRING: insights.properties.ConnectionString
  APPLICATIONINSIGHTS_AUTHENTICATION_STRING: 'ClientId=${identity.properties.clientId};Authorization=AAD'
  ExportJobs__StorageAccountName: storage.name
  ExportJobs__StorageClientId: identity.properties.clientId
  ExportJobs__StorageEndpointSuffix: environment().suffixes.storage
  ExportJobs__NamePrefix: ''
  ExportJobs__ShardCount: string(shardCount)
  ExportJobs__MaxParallelShards: string(maxParallelShards)
  ExportJobs__ShardGroupBytes: string(shardGroupBytes)
  ExportJobs__MaxShardReadsPerHost: string(maxShardReadsPerHost)
  ExportJobs__GraphPartitionBytes: string(graphPartitionBytes)
  ExportJobs__GraphRoundPartitionBytes: string(graphRoundPartitionBytes)
  ExportJobs__MaxStitchedReadsPerHost: string(maxStitchedReadsPerHost)
  ExportJobs__SupersededBuildMinutes: string(supersededBuildMinutes)
  ExportJobs__ShardAttempts: string(shardAttempts)
  ExportJobs__PartRows: string(partRows)
  ExportJobs__PartBytes: string(partBytes)
  ExportJobs__MaxShardFiles: string(maxShardFiles)
  ExportJobs__CompactionQuietSeconds: string(compactionQuietSeconds)
  ExportJobs__LocalCacheBytes: string(localCacheBytes)
  ExportJobs__TypedLeaves: string(typedLeaves)
  ExportJobs__EvaluationBudget: string(evaluationBudget)
  ExportJobs__WarmUpSeconds: string(warmUpSeconds)
  // A runtime setting without a runtimeconfig.json name, read from the environment: its value and why are in the sample.
  DOTNET_GCgen0size: loadJsonContent('../local.settings.sample.json').Values.DOTNET_GCgen0size
  ExportJobs__Access__Issuer: accessIssuer
  ExportJobs__Access__Audience: accessAudience
  ExportJobs__Access__MetadataAddress: accessMetadataAddress
  ExportJobs__Access__OrgClaim: accessOrgClaim
  ExportJobs__Access__ClockSkewSeconds: string(accessClockSkewSeconds)
  ExportJobs__Limits__MaxJsonBodyBytes: string(maxJsonBodyBytes)
  ExportJobs__Limits__MaxIngestBodyBytes: string(maxIngestBodyBytes)
  ExportJobs__Limits__MaxRecordBytes: string(maxRecordBytes)
  ExportJobs__Limits__IngestChunkBytes: string(ingestChunkBytes)
  ExportJobs__Schedules__MinimumIntervalSeconds: string(scheduleMinimumIntervalSeconds)
  ExportJobs__Idempotency__WindowSeconds: string(idempotencyWindowSeconds)
  ExportJobs__Idempotency__WaitSeconds: string(idempotencyWaitSeconds)
  ExportJobs__Watchdog__StuckNewAfterSeconds: string(watchdogStuckNewAfterSeconds)
  ExportJobs__Watchdog__StalledAfterSeconds: string(watchdogStalledAfterSeconds)
  ExportJobs__Watchdog__PurgeEndedAfterSeconds: string(watchdogPurgeEndedAfterSeconds)
  ExportJobs__Callbacks__AllowLoopback: 'false'
  ExportJobs__Callbacks__MaxAttempts: string(callbackMaxAttempts)
  ExportJobs__Callbacks__TimeoutSeconds: string(callbackTimeoutSeconds)
}
var clientIdSettings = toObject(range(0, length(accessAllowedClientIds)), i => 'ExportJobs__Access__AllowedClientIds__${i}', i => string(accessAllowedClientIds[i]))
var callbackPortSettings = toObject(range(0, length(callbackPorts)), i => 'ExportJobs__Callbacks__Ports__${i}', i => string(callbackPorts[i]))
var defaultSandboxSettings = toObject(range(0, length(accessDefaultSandboxes)), i => 'ExportJobs__Access__DefaultSandboxes__${i}', i => string(accessDefaultSandboxes[i]))
var orgSandboxSettings = reduce(items(accessSandboxes), {}, (all, org) => union(all,
  toObject(range(0, length(org.value)), i => 'ExportJobs__Access__Sandboxes__${org.key}__${i}', i => string(org.value[i]))))
var appSettings = union(baseSettings, clientIdSettings, callbackPortSettings, defaultSandboxSettings, orgSandboxSettings)

resource app 'Microsoft.Web/sites@2024-04-01' = {
  name: 'func-${name}-${token}'
  location: location
  kind: 'functionapp,linux'
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: {
      '${identity.id}': {}
    }
  }
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    functionAppConfig: {
      deployment: {
        storage: {
          type: 'blobContainer'
          value: '${storage.properties.primaryEndpoints.blob}${deploymentContainer}'
          authentication: {
            type: 'UserAssignedIdentity'
            userAssignedIdentityResourceId: identity.id
          }
        }
      }
      scaleAndConcurrency: {
        maximumInstanceCount: maximumInstanceCount
        instanceMemoryMB: instanceMemoryMB
      }
      runtime: {
        name: 'dotnet-isolated'
        version: '10.0'
      }
    }
    siteConfig: {
      minTlsVersion: '1.2'
      ftpsState: 'Disabled'
      appSettings: map(items(appSettings), setting => {
        name: setting.key
        value: setting.value
      })
    }
  }
  dependsOn: [
    storageRoles
    insightsRole
    packageContainer
  ]
}

@description('The Function App\'s name, for the publish command.')
output functionAppName string = app.name

@description('The API base URL.')
output apiBaseUrl string = 'https://${app.properties.defaultHostName}/data/core/ups'

@description('The storage account of the service\'s data and of the Durable task hub.')
output storageAccountName string = storage.name
