// Cetegra Analytics: the whole deployment, in the EEA only.
// `azd up` (Azure Developer CLI) creates the resource group and calls the modules in infra/app.
// The pseudonym salt is NOT created here (secrets never sit in templates or parameter files):
// docs/deploy.md says how to create its first version after the first `azd up`.
targetScope = 'subscription'

@minLength(1)
@maxLength(40)
@description('azd environment name; names and tags every resource.')
param environmentName string

// EEA guard: the cookie policy promises storage "within the European Economic Area (EEA)".
// Only EEA regions are accepted, and every resource below uses this one location.
@allowed([
  'westeurope'
  'northeurope'
  'swedencentral'
  'germanywestcentral'
  'francecentral'
  'italynorth'
  'polandcentral'
  'spaincentral'
  'norwayeast'
])
@description('EEA region for every resource.')
param location string = 'westeurope'

@description('Object id of the deploying user (azd sets it): may manage the salt secret.')
param principalId string = ''

@description('Client (application) id of the Entra app registration the web clients sign in to.')
param entraClientId string

@description('Comma-separated Entra tenant ids (GUIDs) of the Cetegra customers whose users may sign in (multi-tenant app registration). The deploying tenant is always allowed; App Service Authentication checks at most 10 tenants in all.')
@maxLength(332)
param allowedTenantIds string = ''

@description('Comma-separated Entra tenant ids (GUIDs) of Cegal\'s own staff: the only tenants whose analytics app roles (Reader, Author, Operator) count; assignments made in customer tenants are ignored. Required: the app refuses to start without it. Its users may always sign in.')
@minLength(36)
param staffTenantIds string

@description('Comma-separated client ids of the apps (the Workspace web client) allowed to call the API with a bearer token; empty = any app the token was issued to for this API.')
param allowedClientApplications string = ''

@description('Consent policy version shown in the consent dialog (POLICY_VERSION).')
@minLength(1)
@maxLength(64)
param policyVersion string

@allowed(['drop', 'anonymous'])
@description('What happens to events of users who declined: dropped (default) or kept without any user id.')
param declinedMode string = 'drop'

@description('Comma-separated origins of the Cetegra web clients, e.g. https://workspace.cetegra.com')
param corsAllowedOrigins string = ''

@description('Object id of the Entra group of analysts given read access to the aggregate tables only (Power BI/Excel); empty: none.')
param analystsGroupId string = ''

@description('Key Vault secret name of the pseudonym salt.')
param saltSecretName string = 'analytics-pseudonym-salt'

@description('Resource id of the action group the alerts notify; empty: alerts fire in the portal only.')
param alertActionGroupId string = ''

@description('Rotation policy for the pseudonym salt, in days (alert when the current version is older).')
param saltRotationDays int = 365

var tags = { 'azd-env-name': environmentName, workload: 'cetegra-analytics', dataResidency: 'EEA' }
var token = toLower(uniqueString(subscription().id, environmentName, location))

resource rg 'Microsoft.Resources/resourceGroups@2024-03-01' = {
  name: 'rg-${environmentName}'
  location: location
  tags: tags
}

module monitoring 'app/monitoring.bicep' = {
  name: 'monitoring'
  scope: rg
  params: {
    location: location
    tags: tags
    logAnalyticsName: 'log-${token}'
    applicationInsightsName: 'appi-${token}'
  }
}

module observability 'app/observability.bicep' = {
  name: 'observability'
  scope: rg
  params: {
    location: location
    tags: tags
    applicationInsightsName: monitoring.outputs.applicationInsightsName
    actionGroupId: alertActionGroupId
    saltRotationDays: saltRotationDays
  }
}

module storage 'app/storage.bicep' = {
  name: 'storage'
  scope: rg
  params: {
    location: location
    tags: tags
    name: 'st${token}'
    deploymentContainerName: 'app-package-${token}'
  }
}

module vault 'app/keyvault.bicep' = {
  name: 'keyvault'
  scope: rg
  params: {
    location: location
    tags: tags
    name: 'kv-${token}'
  }
}

module api 'app/function.bicep' = {
  name: 'api'
  scope: rg
  params: {
    location: location
    tags: union(tags, { 'azd-service-name': 'api' })
    name: 'func-${token}'
    planName: 'plan-${token}'
    storageAccountName: storage.outputs.name
    deploymentContainerName: storage.outputs.deploymentContainerName
    applicationInsightsName: monitoring.outputs.applicationInsightsName
    keyVaultUri: vault.outputs.uri
    entraClientId: entraClientId
    allowedTenantIds: union([tenant().tenantId], split(staffTenantIds, ','), empty(allowedTenantIds) ? [] : split(allowedTenantIds, ','))
    staffTenantIds: split(staffTenantIds, ',')
    allowedClientApplications: empty(allowedClientApplications) ? [] : split(allowedClientApplications, ',')
    settings: {
      policyVersion: policyVersion
      declinedMode: declinedMode
      corsAllowedOrigins: corsAllowedOrigins
      saltSecretName: saltSecretName
    }
  }
}

module rbac 'app/rbac.bicep' = {
  name: 'rbac'
  scope: rg
  params: {
    appPrincipalId: api.outputs.identityPrincipalId
    deployerPrincipalId: principalId
    storageAccountName: storage.outputs.name
    keyVaultName: vault.outputs.name
    applicationInsightsName: monitoring.outputs.applicationInsightsName
    analystsGroupId: analystsGroupId
  }
}

output AZURE_LOCATION string = location
output AZURE_RESOURCE_GROUP string = rg.name
output AZURE_FUNCTION_APP_NAME string = api.outputs.name
output SERVICE_API_URI string = api.outputs.uri
output AZURE_KEY_VAULT_NAME string = vault.outputs.name
output SALT_SECRET_NAME string = saltSecretName
