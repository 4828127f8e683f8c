// Least privilege for the app's managed identity, each role scoped to the one resource it needs.
param appPrincipalId string
param deployerPrincipalId string
param storageAccountName string
param keyVaultName string
param applicationInsightsName string

@description('Object id of the Entra group of analysts who may read the aggregate tables with Power BI or Excel; empty: no one.')
param analystsGroupId string = ''

// Released tables only: every count in them is a differentially private release
// (docs/privacy-model.md). Never the raw ev*/ud* day tables, the first-seen index, consent, audit,
// salt usage, nor the exact internal aggregates aggdaily/aggmonthly (differencing them against the
// releases gave suppressed counts away, issue 23). tests/test_infra.py keeps this list equal to
// the code's (shared/storage/reports.py AGGREGATE_TABLES and the tenant directory).
var aggregateTables = [
  'rptactived'
  'rptactivew'
  'rptactivem'
  'rptfeaturew'
  'rptfeaturem'
  'rptcohort'
  'tenants'
]

var roles = {
  storageTableDataContributor: '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3' // events, consent, aggregates, audit
  storageBlobDataOwner: 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b' // Functions host: package, timer locks
  keyVaultSecretsUser: '4633458b-17de-408a-b874-0445c86b69e6' // read the salt (all versions)
  keyVaultSecretsOfficer: 'b86a8fe4-44ce-4948-aee5-eccb2c155cd7' // deployer: create/rotate the salt
  monitoringMetricsPublisher: '3913510d-42f4-4e42-8a64-420c390055eb' // Entra-authenticated telemetry
  storageTableDataReader: '76199698-9eea-4c19-bc75-cec21354c6b6' // analysts: the aggregate tables only
}

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: storageAccountName
}

resource tableService 'Microsoft.Storage/storageAccounts/tableServices@2023-05-01' existing = {
  parent: storage
  name: 'default'
}

// Declared so the role assignments below have their scope at deploy time (the app creates them
// too, idempotently, on first use).
resource aggregateTable 'Microsoft.Storage/storageAccounts/tableServices/tables@2023-05-01' = [for name in aggregateTables: {
  parent: tableService
  name: name
}]

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' existing = {
  name: keyVaultName
}

resource insights 'Microsoft.Insights/components@2020-02-02' existing = {
  name: applicationInsightsName
}

resource tables 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storage.id, appPrincipalId, roles.storageTableDataContributor)
  scope: storage
  properties: {
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageTableDataContributor)
  }
}

resource blobs 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storage.id, appPrincipalId, roles.storageBlobDataOwner)
  scope: storage
  properties: {
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageBlobDataOwner)
  }
}

resource secrets 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(vault.id, appPrincipalId, roles.keyVaultSecretsUser)
  scope: vault
  properties: {
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.keyVaultSecretsUser)
  }
}

resource telemetry 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(insights.id, appPrincipalId, roles.monitoringMetricsPublisher)
  scope: insights
  properties: {
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.monitoringMetricsPublisher)
  }
}

resource saltAdmin 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (!empty(deployerPrincipalId)) {
  name: guid(vault.id, deployerPrincipalId, roles.keyVaultSecretsOfficer)
  scope: vault
  properties: {
    principalId: deployerPrincipalId
    principalType: 'User'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.keyVaultSecretsOfficer)
  }
}

// BI path: Power BI / Excel read these tables natively with the analyst's Entra identity.
resource analystsRead 'Microsoft.Authorization/roleAssignments@2022-04-01' = [for (name, i) in aggregateTables: if (!empty(analystsGroupId)) {
  name: guid(storage.id, name, analystsGroupId, roles.storageTableDataReader)
  scope: aggregateTable[i]
  properties: {
    principalId: analystsGroupId
    principalType: 'Group'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageTableDataReader)
  }
}]
