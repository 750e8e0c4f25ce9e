/* vulkan_validation_selftest.c — the validation harness's own check: one valid-usage error (a zero-size buffer)
 * and one synchronization hazard (two fills of a buffer with no barrier between) on the first Vulkan device.
 * Run by tests/ci/vulkan-validation.sh --expect-errors, which passes only when the layer reports both, so a layer
 * or loader that stops honouring the harness's settings cannot turn the validation tests green by silence.
 * Exits 77 when there is no Vulkan device. */
#include <stdio.h>
#include <vulkan/vulkan.h>

static int fail(const char *what, VkResult result)
{
    fprintf(stderr, "vulkan_validation_selftest: %s failed (%d)\n", what, (int)result);
    return 1;
}

int main(void)
{
    VkApplicationInfo application = {.sType = VK_STRUCTURE_TYPE_APPLICATION_INFO, .apiVersion = VK_API_VERSION_1_1};
    VkInstanceCreateInfo instance_info = {.sType = VK_STRUCTURE_TYPE_INSTANCE_CREATE_INFO,
                                          .pApplicationInfo = &application};
    VkInstance instance;
    VkResult result = vkCreateInstance(&instance_info, NULL, &instance);
    if (result != VK_SUCCESS) return result == VK_ERROR_INCOMPATIBLE_DRIVER ? 77 : fail("vkCreateInstance", result);
    uint32_t count = 1;
    VkPhysicalDevice physical;
    result = vkEnumeratePhysicalDevices(instance, &count, &physical);
    if ((result != VK_SUCCESS && result != VK_INCOMPLETE) || count == 0) return 77;

    float priority = 1.0f;
    VkDeviceQueueCreateInfo queue_info = {.sType = VK_STRUCTURE_TYPE_DEVICE_QUEUE_CREATE_INFO,
                                          .queueFamilyIndex = 0,
                                          .queueCount = 1,
                                          .pQueuePriorities = &priority};
    VkDeviceCreateInfo device_info = {
        .sType = VK_STRUCTURE_TYPE_DEVICE_CREATE_INFO, .queueCreateInfoCount = 1, .pQueueCreateInfos = &queue_info};
    VkDevice device;
    if ((result = vkCreateDevice(physical, &device_info, NULL, &device)) != VK_SUCCESS)
        return fail("vkCreateDevice", result);

    VkBufferCreateInfo buffer_info = {
        .sType = VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO, .size = 256, .usage = VK_BUFFER_USAGE_TRANSFER_DST_BIT};
    VkBuffer buffer;
    if ((result = vkCreateBuffer(device, &buffer_info, NULL, &buffer)) != VK_SUCCESS)
        return fail("vkCreateBuffer", result);
    VkMemoryRequirements requirements;
    vkGetBufferMemoryRequirements(device, buffer, &requirements);
    uint32_t type = 0;
    while (type < 32 && !(requirements.memoryTypeBits & (1u << type)))
        ++type;
    VkMemoryAllocateInfo allocate_info = {
        .sType = VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO, .allocationSize = requirements.size, .memoryTypeIndex = type};
    VkDeviceMemory memory;
    if ((result = vkAllocateMemory(device, &allocate_info, NULL, &memory)) != VK_SUCCESS)
        return fail("vkAllocateMemory", result);
    vkBindBufferMemory(device, buffer, memory, 0);

    VkCommandPoolCreateInfo pool_info = {.sType = VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO, .queueFamilyIndex = 0};
    VkCommandPool pool;
    if ((result = vkCreateCommandPool(device, &pool_info, NULL, &pool)) != VK_SUCCESS)
        return fail("vkCreateCommandPool", result);
    VkCommandBufferAllocateInfo command_info = {.sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO,
                                                .commandPool = pool,
                                                .level = VK_COMMAND_BUFFER_LEVEL_PRIMARY,
                                                .commandBufferCount = 1};
    VkCommandBuffer commands;
    if ((result = vkAllocateCommandBuffers(device, &command_info, &commands)) != VK_SUCCESS)
        return fail("vkAllocateCommandBuffers", result);
    VkCommandBufferBeginInfo begin = {.sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO};
    vkBeginCommandBuffer(commands, &begin);
    vkCmdFillBuffer(commands, buffer, 0, 256, 1u);
    vkCmdFillBuffer(commands, buffer, 0, 256, 2u); /* write after write, no barrier: SYNC-HAZARD */
    vkEndCommandBuffer(commands);
    VkQueue queue;
    vkGetDeviceQueue(device, 0, 0, &queue);
    VkSubmitInfo submit = {
        .sType = VK_STRUCTURE_TYPE_SUBMIT_INFO, .commandBufferCount = 1, .pCommandBuffers = &commands};
    vkQueueSubmit(queue, 1, &submit, VK_NULL_HANDLE);
    vkQueueWaitIdle(queue);

    VkBufferCreateInfo empty_info = buffer_info;
    empty_info.size = 0; /* VUID-VkBufferCreateInfo-size-00912 */
    VkBuffer empty = VK_NULL_HANDLE;
    if (vkCreateBuffer(device, &empty_info, NULL, &empty) == VK_SUCCESS) vkDestroyBuffer(device, empty, NULL);

    vkDestroyCommandPool(device, pool, NULL);
    vkDestroyBuffer(device, buffer, NULL);
    vkFreeMemory(device, memory, NULL);
    vkDestroyDevice(device, NULL);
    vkDestroyInstance(instance, NULL);
    return 0;
}
